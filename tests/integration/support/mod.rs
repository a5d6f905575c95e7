//! A sealed test environment: a fleet repository in a temporary directory, built fluently, and
//! the `fleeet` binary run against it with a fixed environment.

use std::path::{Path, PathBuf};
use std::process::Output;

use tempfile::TempDir;

use self::kube::{FakeCluster, Server, capi_clusters};

/// The synthetic fleet generator of the benches.
#[path = "../../../benches/support/fleet.rs"]
pub mod fleet;
pub mod fleet_box;
pub mod git_http;
pub mod github;
pub mod kube;
pub mod objects;

/// The example fleet shipped with the repository.
pub fn example_fleet() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("example-fleet-repo")
}

/// A minimal valid `fleet.yaml`.
pub const FLEET: &str = "apiVersion: fleeet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: test\n";

/// A fleet repository under construction, in its own temporary directory.
pub struct Fleet {
    dir: TempDir,
}

impl Fleet {
    /// A fleet with just a `fleet.yaml`.
    pub fn new() -> Self {
        Fleet::empty().file("fleet.yaml", FLEET)
    }

    /// A directory with nothing in it.
    pub fn empty() -> Self {
        Fleet {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// A copy of the example fleet.
    pub fn example() -> Self {
        let fleet = Fleet::empty();
        copy_dir(&example_fleet(), fleet.path());
        fleet
    }

    /// A copy of the example fleet without its management cluster: every cluster is
    /// bootstrapped by hand, and bootstrap modules are in each cluster's own folder.
    pub fn example_without_management() -> Self {
        let fleet = Fleet::example();
        let path = fleet.path().join("fleet.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let (kept, _) = text
            .split_once("  # The management cluster")
            .expect("the example fleet has a management cluster");
        std::fs::write(&path, kept).unwrap();
        fleet
    }

    /// Writes `content` at `path` (relative to the fleet root).
    pub fn file(self, path: &str, content: &str) -> Self {
        let target = self.path().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, content).unwrap();
        self
    }

    /// A cluster with labels, in `clusters/<name>.yaml`.
    pub fn cluster(self, name: &str, labels: &str) -> Self {
        let doc = format!(
            "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: {name}\n  labels: {labels}\n"
        );
        self.file(&format!("clusters/{name}.yaml"), &doc)
    }

    /// A module in `modules/<name>.yaml`, with `spec` (indented YAML lines) as its spec.
    pub fn module(self, name: &str, spec: &str) -> Self {
        let doc = format!(
            "apiVersion: fleeet.dev/v1alpha1\nkind: Module\nmetadata:\n  name: {name}\nspec:\n{spec}"
        );
        self.file(&format!("modules/{name}.yaml"), &doc)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `fleeet` with `args` in the fleet directory.
    pub fn run(&self, args: &[&str]) -> Run {
        run_in(self.path(), args)
    }
}

/// Runs `fleeet` in `dir` with a sealed environment (no colour, no CI or GitHub variables).
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fleeet"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .output()
        .expect("fleeet runs");
    Run(output)
}

/// The outcome of a `fleeet` run.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn success(&self) -> String {
        assert_eq!(self.code(), 0, "fleeet failed:\n{}", self.stderr());
        self.stdout()
    }

    /// Asserts failure with `code` and returns stderr.
    #[track_caller]
    pub fn failure(&self, code: i32) -> String {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self.stderr()
    }
}

/// Every file under `dir`, by relative path, with its content.
pub fn read_tree(dir: &Path) -> std::collections::BTreeMap<String, String> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let relative = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (relative, std::fs::read_to_string(e.path()).unwrap())
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The token the management cluster's kubeconfig carries.
pub const MANAGEMENT_TOKEN: &str = "mgmt-token-1";

/// A management cluster serving Cluster API `Cluster` at `versions` (the first preferred).
pub fn management(versions: &[&'static str]) -> FakeCluster {
    let cluster = FakeCluster::new();
    for (i, version) in versions.iter().enumerate() {
        cluster.serve(capi_clusters(version), i == 0);
    }
    cluster.require_token(MANAGEMENT_TOKEN);
    cluster
}

/// Starts `cluster` and writes a kubeconfig for it (context namespace `namespace`) into `dir`.
pub fn kubeconfig_file(dir: &Path, cluster: &FakeCluster, namespace: &str) -> PathBuf {
    let server = Server::start(cluster);
    let text = objects::kubeconfig(&server.url(), MANAGEMENT_TOKEN).replace(
        "    user: workload-admin\n",
        &format!("    user: workload-admin\n    namespace: {namespace}\n"),
    );
    let path = dir.join("mgmt.kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

/// A fleet repository with `fleet.yaml` holding `spec`, and the other `files` (path, text).
pub fn fleet(spec: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let spec = if spec.is_empty() {
        "spec: {}\n".to_string()
    } else {
        format!("spec:\n{spec}")
    };
    let text =
        format!("apiVersion: fleeet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: acme\n{spec}");
    std::fs::write(dir.path().join("fleet.yaml"), text).unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// `git ARGS` in `dir` as Ada, which must succeed; its standard output. With `date`, the commits
/// it makes carry that date, so their ids are the same on every run.
pub fn git_at(dir: &Path, date: Option<&str>, args: &[&str]) -> String {
    let mut git = std::process::Command::new("git");
    git.args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com");
    if let Some(date) = date {
        git.env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date);
    }
    let out = git.output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The fleeet binary, with no CI variable leaking in from the environment.
pub fn fleeet() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("fleeet").unwrap();
    command.env_remove("KUBECONFIG").env("HOME", "/nonexistent");
    command
}

/// A health snapshot saying every pointer of the rendered `files` is ready at the revision it
/// pins, since `since`; the pointers the management cluster applies (under `_bootstrap/`) as
/// the management cluster sees them.
pub fn healthy_snapshot(files: &std::collections::BTreeMap<String, String>, since: &str) -> String {
    let mut out =
        format!("apiVersion: fleeet.dev/v1alpha1\nkind: HealthSnapshot\nobservedAt: \"{since}\"\n");
    let mut clusters: std::collections::BTreeMap<String, Vec<(String, String)>> =
        Default::default();
    let mut bootstrap: std::collections::BTreeMap<String, Vec<(String, String)>> =
        Default::default();
    for (path, content) in files {
        let parts: Vec<&str> = path.split('/').collect();
        if let ["clusters", _, "_bootstrap", cluster, file] = parts.as_slice()
            && let Some(module) = file.strip_suffix(".yaml").filter(|m| *m != "_sync")
        {
            let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(content).unwrap();
            let tag = docs[0]["spec"]["ref"]["tag"].as_str().unwrap().to_string();
            bootstrap
                .entry(cluster.to_string())
                .or_default()
                .push((module.to_string(), tag));
            continue;
        }
        let ["clusters", cluster, file] = parts.as_slice() else {
            continue;
        };
        clusters.entry(cluster.to_string()).or_default();
        let Some(module) = file.strip_suffix(".yaml").filter(|m| *m != "kustomization") else {
            continue;
        };
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(content).unwrap();
        let revision = match docs[0]["spec"]["ref"]["tag"].as_str() {
            Some(tag) => tag.to_string(),
            None => {
                let release: Vec<serde_json::Value> = serde_saphyr::from_multiple(
                    &files[&format!("clusters/{cluster}/{module}/release.yaml")],
                )
                .unwrap();
                release[1]["spec"]["chart"]["spec"]["version"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
        };
        clusters
            .get_mut(*cluster)
            .unwrap()
            .push((module.to_string(), revision));
    }
    for (section, clusters) in [("clusters", clusters), ("bootstrap", bootstrap)] {
        if section == "bootstrap" && clusters.is_empty() {
            continue;
        }
        out.push_str(&format!("{section}:\n"));
        for (cluster, modules) in clusters {
            out.push_str(&format!(
                "  {cluster}:\n    reachable: true\n    modules:\n"
            ));
            if modules.is_empty() {
                out.truncate(out.len() - "    modules:\n".len());
                out.push_str("    modules: {}\n");
            }
            for (module, revision) in modules {
                out.push_str(&format!(
                    "      {module}: {{ready: true, revision: \"{revision}@sha1:0123abcd\", since: \"{since}\", reason: ReconciliationSucceeded}}\n"
                ));
            }
        }
    }
    out
}

/// A rendered tree without the example's store clusters, whose store-agent changes only in the
/// stores' night window (Monday to Friday), never on the Saturday the tests run on.
pub fn without_stores(
    mut files: std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    files.retain(|path, _| !path.contains("clusters/store-"));
    files
}
