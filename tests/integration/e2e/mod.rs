//! End to end against real Kubernetes and real Flux: the fleet in a box (`e2e/fleet`) runs etcd,
//! kube-apiserver (a management cluster and workload clusters) and Flux's source-controller and
//! kustomize-controller as local processes; the module sources and the fleet repository are bare
//! repositories served by git's http-backend; GitHub is the in-process stand-in.
//!
//! `rollout`: the loop of waves, health, halts, unreachable and deleted clusters, read with
//! exactly the roles of `deploy/rbac/`. `onboarding`: the management cluster bootstraps every
//! cluster Cluster API creates, with no command run against it.

mod onboarding;
mod rollout;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fleeet::git::{Identity, Repo};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::Run;
use crate::support::fleet_box::{FleetBox, git};
use crate::support::github::{FakeGitHub, REPO, TOKEN};

const RENDERED: &str = "fleeet/rendered";
const NEXT: &str = "fleeet/next";
const FLUX: Duration = Duration::from_secs(90);

/// The module's manifests at each tag: v1 and v2 apply, v3 has a Service the API server rejects.
fn hello_manifests(version: &str) -> [(&'static str, String); 2] {
    let port = if version == "3" { 70000 } else { 80 };
    [
        (
            "deploy/configmap.yaml",
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n  namespace: default\n\
                 data:\n  greeting: \"${{greeting}}\"\n  cluster: \"${{cluster_name}}\"\n  version: \"{version}\"\n"
            ),
        ),
        (
            "deploy/service.yaml",
            format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: hello\n  namespace: default\n\
                 spec:\n  selector:\n    app: hello\n  ports:\n    - port: {port}\n"
            ),
        ),
    ]
}

pub(crate) fn hello_module(url: &str, version: &str) -> String {
    format!(
        "apiVersion: fleeet.dev/v1alpha1\nkind: Module\nmetadata:\n  name: hello\nspec:\n  \
         version: \"{version}\"\n  source:\n    git:\n      url: {url}\n      path: ./deploy\n      \
         tag: \"v{{{{ version }}}}\"\n  selector: {{}}\n  interval: 1m\n  timeout: 30s\n  values:\n    \
         greeting: hello\n    cluster_name: \"{{{{ cluster.name }}}}\"\n"
    )
}

/// The whole loop: a fleet repository (empty until a test writes it), its origin in the box,
/// the module `hello` published there, and the GitHub stand-in mirroring origin's branches.
struct Loop {
    fleet_box: FleetBox,
    fleet: TempDir,
    origin: PathBuf,
    origin_url: String,
    hello_url: String,
    github: FakeGitHub,
    /// The kubeconfig of the management cluster fleeet uses.
    management: PathBuf,
}

impl Loop {
    async fn start(fleet_box: FleetBox, management: PathBuf) -> Loop {
        let (origin, origin_url) = fleet_box.bare_repository("fleet");
        let hello_url = publish_hello(&fleet_box);
        let fleet = tempfile::tempdir().unwrap();
        git(fleet.path(), &["init", "--quiet", "--initial-branch=main"]);
        git(fleet.path(), &["remote", "add", "origin", &origin_url]);
        let github = FakeGitHub::start().await;
        github.mirror_branches(&origin);
        Loop {
            fleet_box,
            fleet,
            origin,
            origin_url,
            hello_url,
            github,
            management,
        }
    }

    /// Writes a file of the fleet repository (not committed).
    fn write(&self, path: &str, text: &str) {
        let file = self.fleet.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }

    /// `fleeet ARGS` in the fleet checkout, as the GitHub Action runs it.
    fn fleeet(&self, args: &[&str]) -> Run {
        let run = Run(Command::new(env!("CARGO_BIN_EXE_fleeet"))
            .args(args)
            .current_dir(self.fleet.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", "/nonexistent")
            .env("NO_COLOR", "1")
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_API_URL", self.github.api_url())
            .output()
            .expect("fleeet runs"));
        assert!(
            !run.stdout().contains(TOKEN) && !run.stderr().contains(TOKEN),
            "the token leaked"
        );
        run
    }

    fn reconcile(&self) -> Run {
        let kubeconfig = self.management.to_str().unwrap();
        self.fleeet(&["reconcile", "--kubeconfig", kubeconfig])
    }

    /// `fleeet inventory sync` as the deploy/rbac identity; its summary line.
    fn inventory_sync(&self) -> String {
        let kubeconfig = self.management.to_str().unwrap();
        let namespace = &self.fleet_box.env.namespace;
        let run = self.fleeet(&[
            "inventory",
            "sync",
            "--kubeconfig",
            kubeconfig,
            "-n",
            namespace,
        ]);
        run.success();
        run.stderr()
    }

    /// The health snapshot `fleeet status --save` writes, as JSON.
    fn status(&self) -> Value {
        let save = self.fleet.path().join("../health.yaml");
        let kubeconfig = self.management.to_str().unwrap();
        self.fleeet(&[
            "status",
            "--kubeconfig",
            kubeconfig,
            "--save",
            save.to_str().unwrap(),
        ])
        .success();
        serde_saphyr::from_str(&std::fs::read_to_string(save).unwrap()).unwrap()
    }

    fn commit_fleet(&self, message: &str) {
        git(self.fleet.path(), &["add", "-A"]);
        git(self.fleet.path(), &["commit", "--quiet", "-m", message]);
        git(self.fleet.path(), &["push", "--quiet", "origin", "main"]);
    }

    fn open_pulls(&self) -> Vec<crate::support::github::Pull> {
        self.github.pulls().into_iter().filter(|p| p.open).collect()
    }

    /// Merges the open pull request as GitHub does (a merge commit on the rendered branch).
    fn merge(&self) -> crate::support::github::Pull {
        let pulls = self.open_pulls();
        assert_eq!(pulls.len(), 1, "one open pull request: {pulls:?}");
        let origin = Repo::open(&self.origin).unwrap();
        let next = origin.resolve(NEXT).unwrap().unwrap();
        let parents: Vec<git2::Oid> = origin
            .resolve(RENDERED)
            .unwrap()
            .into_iter()
            .chain([next])
            .collect();
        let identity = Identity {
            name: "GitHub".into(),
            email: "noreply@github.com".into(),
            time: jiff::Timestamp::now(),
        };
        let merge = origin
            .commit(
                &parents,
                origin.tree_of(next).unwrap(),
                "Merge pull request",
                &identity,
            )
            .unwrap();
        git(
            &self.origin,
            &[
                "update-ref",
                &format!("refs/heads/{RENDERED}"),
                &merge.to_string(),
            ],
        );
        self.github.edit_pull(pulls[0].number, |p| p.open = false);
        pulls[0].clone()
    }

    /// The files of the rendered branch.
    fn rendered(&self) -> std::collections::BTreeMap<String, String> {
        let origin = Repo::open(&self.origin).unwrap();
        let Some(tip) = origin.resolve(RENDERED).unwrap() else {
            return Default::default();
        };
        origin
            .read_files(tip, &["clusters", ".fleeet"])
            .unwrap()
            .into_iter()
            .map(|(p, c)| (p, c.text().unwrap().to_string()))
            .collect()
    }

    /// Bootstraps `cluster` as the README says: `fleeet bootstrap … | kubectl apply -f -`.
    fn bootstrap(&self, cluster: &str) {
        let objects = self
            .fleeet(&["bootstrap", cluster, "--url", &self.origin_url])
            .success();
        self.fleet_box
            .kubectl_in(cluster, &["apply", "-f", "-"], Some(&objects));
    }

    /// Asks Flux on `cluster` to fetch the rendered branch now.
    fn sync(&self, cluster: &str) {
        self.fleet_box
            .request_reconcile(cluster, "gitrepository", "fleeet");
        self.fleet_box
            .request_reconcile(cluster, "kustomization", "fleeet");
    }

    /// Waits until the Kustomization `hello` on `cluster` is Ready at `version`.
    fn wait_ready(&self, cluster: &str, version: &str) -> Value {
        self.fleet_box.wait_for(
            &format!("hello v{version} Ready on {cluster}"),
            FLUX,
            || ready_at(self.kustomization(cluster)?, version),
        )
    }

    fn kustomization(&self, cluster: &str) -> Result<Value, String> {
        self.fleet_box
            .get(cluster, "kustomization", "hello", "flux-system")
            .ok_or_else(|| "no Kustomization hello yet".to_string())
    }

    /// The ConfigMap the module applied on `cluster`.
    fn configmap(&self, cluster: &str) -> Value {
        self.fleet_box
            .get(cluster, "configmap", "hello", "default")
            .unwrap_or_else(|| panic!("no ConfigMap hello on {cluster}"))
    }

    /// Reconciles until a pull request is open (or `timeout` passes): the rollout waits for bake.
    fn reconcile_until_pull(&self, timeout: Duration) -> Run {
        self.fleet_box.wait_for("a pull request", timeout, || {
            let run = self.reconcile();
            run.success();
            if self.open_pulls().is_empty() {
                Err(run.stderr())
            } else {
                Ok(run)
            }
        })
    }
}

/// The Kustomization `k` if it is Ready at tag `v<version>`, else what it says.
fn ready_at(k: Value, version: &str) -> Result<Value, String> {
    let ready = condition(&k, "Ready");
    let revision = k["status"]["lastAppliedRevision"]
        .as_str()
        .unwrap_or_default();
    if ready["status"] == "True" && revision.starts_with(&format!("v{version}@")) {
        Ok(k)
    } else {
        Err(format!("{ready} at {revision:?}"))
    }
}

fn condition(object: &Value, kind: &str) -> Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == kind))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Publishes the module `hello` in the box's git server: tags v1, v2 and v3 (bad).
fn publish_hello(fleet_box: &FleetBox) -> String {
    let versions: Vec<_> = ["1", "2", "3"]
        .into_iter()
        .map(|version| {
            let files = hello_manifests(version).map(|(path, text)| (path.to_string(), text));
            (version, files.into())
        })
        .collect();
    fleet_box.publish_module("hello", &versions)
}

/// Applies deploy/rbac/management-cluster.yaml to the management cluster and returns a
/// kubeconfig for its `fleeet` ServiceAccount: what fleeet reads the management cluster as.
pub(crate) fn management_identity(fleet_box: &FleetBox) -> PathBuf {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac");
    let namespace = &fleet_box.env.namespace;
    let mgmt = "mgmt";
    fleet_box.kubectl(mgmt, &["create", "namespace", "fleeet-system"]);
    let roles = std::fs::read_to_string(deploy.join("management-cluster.yaml")).unwrap();
    let roles = roles.replace("fleet-prod", namespace);
    fleet_box.kubectl_in(mgmt, &["apply", "-f", "-"], Some(&roles));
    let token = fleet_box.kubectl(
        mgmt,
        &[
            "create",
            "token",
            "fleeet",
            "-n",
            "fleeet-system",
            "--duration=1h",
        ],
    );
    let kubeconfig = fleet_box.dir().join("fleeet-sa.kubeconfig");
    let text = with_token(&fleet_box.env.management.kubeconfig, token.trim());
    std::fs::write(&kubeconfig, text).unwrap();
    kubeconfig
}

/// The box's admin kubeconfig at `path` with `token` instead of the admin token.
pub(crate) fn with_token(path: &Path, token: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let admin = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .to_string();
    text.replace(&admin, token)
}
