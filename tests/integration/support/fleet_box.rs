//! The fleet in a box (`e2e/fleet`): real etcd, kube-apiserver and Flux controllers as local
//! processes, and a git smart-HTTP server. A [`FleetBox`] starts one and stops it when dropped.
//!
//! The peers come from `e2e/build` (or `FLEEET_E2E_BIN`). When they are not built the tests say
//! so and pass, except under `CI=true`, where they fail: CI must run them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tempfile::TempDir;

/// One API server of the box.
#[derive(Clone, Debug, Deserialize)]
pub struct Endpoint {
    pub name: String,
    pub kubeconfig: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Git {
    /// `http://127.0.0.1:PORT`: repositories are `URL/NAME.git`.
    pub url: String,
    /// The folder of the bare repositories it serves.
    pub root: PathBuf,
}

/// `DIR/env.json`, as `e2e/fleet up` writes it.
#[derive(Clone, Debug, Deserialize)]
pub struct Env {
    pub management: Endpoint,
    /// The Cluster API namespace of the workload clusters.
    pub namespace: String,
    pub git: Git,
    pub clusters: Vec<Endpoint>,
    /// The CRDs the box installs (Flux's, Cluster API's).
    pub crds: PathBuf,
}

/// A running box; dropping it runs `e2e/fleet down`.
pub struct FleetBox {
    dir: TempDir,
    pub env: Env,
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The folder of the built peers, or `None` (with a message) when they are not built and this is
/// not CI.
fn peers() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("FLEEET_E2E_BIN") {
        return Some(bin.into());
    }
    let check = Command::new(repository().join("e2e/build"))
        .arg("--check")
        .output()
        .expect("e2e/build runs");
    if check.status.success() {
        let out = String::from_utf8(check.stdout).unwrap();
        return Some(PathBuf::from(out.trim()).join("bin"));
    }
    let why = String::from_utf8_lossy(&check.stderr).trim().to_string();
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the end-to-end peers are not built ({why}); .ci/run builds them with e2e/build");
    }
    eprintln!("skipping: the end-to-end peers are not built ({why}); run e2e/build first");
    None
}

impl FleetBox {
    /// Starts a box with `clusters` workload clusters; `flux` is `always` or `on-deployment`.
    /// `None` when the peers are not built (outside CI).
    pub fn up(clusters: usize, flux: &str) -> Option<FleetBox> {
        let bin = peers()?;
        let dir = tempfile::Builder::new()
            .prefix("fleeet-box-")
            .tempdir()
            .unwrap();
        let out = Command::new(repository().join("e2e/fleet"))
            .args(["up", "--ttl", "900", "--flux", flux, "--clusters"])
            .arg(clusters.to_string())
            .arg("--dir")
            .arg(dir.path())
            .arg("--bin")
            .arg(&bin)
            .stdin(Stdio::null())
            .output()
            .expect("e2e/fleet runs");
        assert!(
            out.status.success(),
            "e2e/fleet up: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            logs(dir.path())
        );
        let env = read_env(dir.path());
        Some(FleetBox { dir, env })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The workload cluster `name`.
    pub fn cluster(&self, name: &str) -> &Endpoint {
        self.env
            .clusters
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no cluster {name} in the box"))
    }

    fn endpoint(&self, name: &str) -> &Endpoint {
        if name == self.env.management.name {
            &self.env.management
        } else {
            self.cluster(name)
        }
    }

    /// `kubectl ARGS` against cluster `name` (`mgmt` for the management cluster).
    pub fn kubectl_output(&self, name: &str, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.endpoint(name).kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        let mut input = child.stdin.take().unwrap();
        input
            .write_all(stdin.unwrap_or_default().as_bytes())
            .unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// `kubectl ARGS` that must succeed; its standard output.
    pub fn kubectl(&self, name: &str, args: &[&str]) -> String {
        self.kubectl_in(name, args, None)
    }

    /// `kubectl ARGS` with `stdin`, that must succeed; its standard output.
    pub fn kubectl_in(&self, name: &str, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl_output(name, args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?} on {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// An object of cluster `name` as JSON, or `None` when it does not exist.
    pub fn get(
        &self,
        name: &str,
        kind: &str,
        object: &str,
        namespace: &str,
    ) -> Option<serde_json::Value> {
        let out = self.kubectl_output(
            name,
            &["get", kind, object, "-n", namespace, "-o", "json"],
            None,
        );
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    /// Asks Flux on cluster `name` to reconcile `kind/object` now, as `flux reconcile` does.
    pub fn request_reconcile(&self, name: &str, kind: &str, object: &str) {
        let at = format!("reconcile.fluxcd.io/requestedAt={}", now_nanos());
        self.kubectl(
            name,
            &[
                "annotate",
                "--overwrite",
                "-n",
                "flux-system",
                kind,
                object,
                &at,
            ],
        );
    }

    /// `e2e/fleet OP NAME` (add-cluster, stop-cluster or remove-cluster); the box's environment
    /// is read again after it.
    pub fn control(&mut self, op: &str, name: &str) {
        let out = Command::new(repository().join("e2e/fleet"))
            .args([op, name, "--dir"])
            .arg(self.dir())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "e2e/fleet {op} {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.env = read_env(self.dir());
    }

    /// A new bare repository `NAME.git` served by the box's git server: (path, URL).
    pub fn bare_repository(&self, name: &str) -> (PathBuf, String) {
        let path = self.env.git.root.join(format!("{name}.git"));
        if !path.exists() {
            git(
                &self.env.git.root,
                &[
                    "init",
                    "--quiet",
                    "--bare",
                    "--initial-branch=main",
                    path.to_str().unwrap(),
                ],
            );
            git(&path, &["config", "http.receivepack", "true"]);
        }
        (path, format!("{}/{name}.git", self.env.git.url))
    }

    /// Publishes a module source `NAME.git` in the box's git server: for each version, in order,
    /// its files (path, text) written over the last version's, committed and tagged
    /// `v<version>`. Returns the repository's URL.
    pub fn publish_module(&self, name: &str, versions: &[(&str, Vec<(String, String)>)]) -> String {
        let (_, url) = self.bare_repository(name);
        let work = tempfile::tempdir().unwrap();
        git(work.path(), &["init", "--quiet", "--initial-branch=main"]);
        for (version, files) in versions {
            for (path, text) in files {
                let file = work.path().join(path);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, text).unwrap();
            }
            git(work.path(), &["add", "."]);
            let message = format!("{name} v{version}");
            git(work.path(), &["commit", "--quiet", "-m", &message]);
            git(work.path(), &["tag", &format!("v{version}")]);
        }
        git(work.path(), &["push", "--quiet", "--tags", &url, "main"]);
        url
    }

    /// Waits until `ready` says `Some`, polling every half second, for at most `timeout`; panics
    /// with `what`, the last answer and the tail of the box's logs otherwise.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut() -> Result<T, String>,
    ) -> T {
        let end = Instant::now() + timeout;
        loop {
            match ready() {
                Ok(value) => return value,
                Err(last) if Instant::now() > end => {
                    panic!(
                        "{what}: not after {timeout:?}; last seen: {last}\n{}",
                        self.logs()
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }

    /// The last lines of every log of the box, for failure messages.
    pub fn logs(&self) -> String {
        logs(self.dir())
    }
}

impl Drop for FleetBox {
    fn drop(&mut self) {
        let _ = Command::new(repository().join("e2e/fleet"))
            .args(["down", "--dir"])
            .arg(self.dir.path())
            .output();
    }
}

fn read_env(dir: &Path) -> Env {
    let env = std::fs::read_to_string(dir.join("env.json")).expect("e2e/fleet wrote env.json");
    serde_json::from_str(&env).unwrap()
}

/// The last lines of every log of the box in `dir`.
fn logs(dir: &Path) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir.join("logs")) else {
        return out;
    };
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        out.push_str(&format!("--- {}\n", entry.file_name().to_string_lossy()));
        for line in tail.into_iter().rev() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// `git ARGS` in `dir`, which must succeed; its standard output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    super::git_at(dir, None, args)
}
