//! End to end against real Kubernetes and real Flux: the fleet in a box (`e2e/fleet`) runs etcd,
//! kube-apiserver (a management cluster and workload clusters) and Flux's source-controller and
//! kustomize-controller as local processes; the module sources and the fleet repository are bare
//! repositories served by git's http-backend; GitHub is the in-process stand-in.
//!
//! fleeet reads the management cluster and every workload cluster with exactly the roles of
//! `deploy/rbac/` (ServiceAccount tokens), never an admin identity.

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

const FLEET_YAML: &str = "\
apiVersion: fleeet.dev/v1alpha1
kind: Fleet
metadata:
  name: box
spec:
  output:
    branch: fleeet/rendered
  health:
    kubeconfigSecret: \"{{ name }}-fleeet-health\"
    timeout: 10s
  rollout:
    bakeTime: 20s
    progressDeadline: 3m
    waves:
      - name: canary
        selector:
          matchLabels:
            canary: \"true\"
      - name: rest
  github:
    branch: fleeet/next
";

fn hello_module(url: &str, version: &str) -> String {
    format!(
        "apiVersion: fleeet.dev/v1alpha1\nkind: Module\nmetadata:\n  name: hello\nspec:\n  \
         version: \"{version}\"\n  source:\n    git:\n      url: {url}\n      path: ./deploy\n      \
         tag: \"v{{{{ version }}}}\"\n  selector: {{}}\n  interval: 1m\n  timeout: 30s\n  values:\n    \
         greeting: hello\n    cluster_name: \"{{{{ cluster.name }}}}\"\n"
    )
}

/// The whole loop: a fleet repository, its origin in the box, the GitHub stand-in mirroring
/// origin's branches, and kubeconfigs with the deploy/rbac identities.
struct Loop {
    fleet_box: FleetBox,
    fleet: TempDir,
    origin: PathBuf,
    origin_url: String,
    hello_url: String,
    github: FakeGitHub,
    /// The management cluster as the `fleeet` ServiceAccount of deploy/rbac.
    management: PathBuf,
}

impl Loop {
    async fn start(clusters: usize) -> Option<Loop> {
        let fleet_box = FleetBox::up(clusters, "always")?;
        let (origin, origin_url) = fleet_box.bare_repository("fleet");
        let hello_url = publish_hello(&fleet_box);
        let management = grant_deploy_rbac(&fleet_box);
        let fleet = tempfile::tempdir().unwrap();
        std::fs::write(fleet.path().join("fleet.yaml"), FLEET_YAML).unwrap();
        std::fs::create_dir(fleet.path().join("modules")).unwrap();
        std::fs::write(
            fleet.path().join("modules/hello.yaml"),
            hello_module(&hello_url, "1"),
        )
        .unwrap();
        git(fleet.path(), &["init", "--quiet", "--initial-branch=main"]);
        git(fleet.path(), &["remote", "add", "origin", &origin_url]);
        git(fleet.path(), &["add", "."]);
        git(fleet.path(), &["commit", "--quiet", "-m", "The fleet"]);
        git(fleet.path(), &["push", "--quiet", "origin", "main"]);
        let github = FakeGitHub::start().await;
        github.mirror_branches(&origin);
        Some(Loop {
            fleet_box,
            fleet,
            origin,
            origin_url,
            hello_url,
            github,
            management,
        })
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
            .map(|(p, c)| (p, c.to_string()))
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
            || {
                let k = self.kustomization(cluster)?;
                let ready = condition(&k, "Ready");
                let revision = k["status"]["lastAppliedRevision"]
                    .as_str()
                    .unwrap_or_default();
                if ready["status"] == "True" && revision.starts_with(&format!("v{version}@")) {
                    Ok(k)
                } else {
                    Err(format!("{ready} at {revision:?}"))
                }
            },
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

fn condition(object: &Value, kind: &str) -> Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == kind))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Publishes the module `hello` in the box's git server: tags v1, v2 and v3 (bad).
fn publish_hello(fleet_box: &FleetBox) -> String {
    let (_, url) = fleet_box.bare_repository("hello");
    let work = tempfile::tempdir().unwrap();
    git(work.path(), &["init", "--quiet", "--initial-branch=main"]);
    for version in ["1", "2", "3"] {
        for (path, text) in hello_manifests(version) {
            let file = work.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        git(work.path(), &["add", "."]);
        git(
            work.path(),
            &["commit", "--quiet", "-m", &format!("hello v{version}")],
        );
        git(work.path(), &["tag", &format!("v{version}")]);
    }
    git(work.path(), &["push", "--quiet", "--tags", &url, "main"]);
    url
}

/// Applies deploy/rbac to every cluster of the box and returns a management kubeconfig for the
/// `fleeet` ServiceAccount; each workload cluster's `fleeet-health` kubeconfig goes into the
/// Secret `<name>-fleeet-health` on the management cluster.
fn grant_deploy_rbac(fleet_box: &FleetBox) -> PathBuf {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac");
    let namespace = &fleet_box.env.namespace;
    let mgmt = "mgmt";
    fleet_box.kubectl(mgmt, &["create", "namespace", "fleeet-system"]);
    let roles = std::fs::read_to_string(deploy.join("management-cluster.yaml")).unwrap();
    fleet_box.kubectl_in(
        mgmt,
        &["apply", "-f", "-"],
        Some(&roles.replace("fleet-prod", namespace)),
    );
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
    let management = fleet_box.dir().join("fleeet-sa.kubeconfig");
    std::fs::write(
        &management,
        with_token(&fleet_box.env.management.kubeconfig, token.trim()),
    )
    .unwrap();

    let workload = std::fs::read_to_string(deploy.join("workload-cluster.yaml")).unwrap();
    for cluster in &fleet_box.env.clusters {
        let name = cluster.name.as_str();
        fleet_box.kubectl_in(name, &["apply", "-f", "-"], Some(&workload));
        let token = fleet_box.kubectl(
            name,
            &[
                "create",
                "token",
                "fleeet-health",
                "-n",
                "flux-system",
                "--duration=1h",
            ],
        );
        let kubeconfig = with_token(&cluster.kubeconfig, token.trim());
        let secret = format!("{name}-fleeet-health");
        fleet_box.kubectl_in(
            mgmt,
            &[
                "create",
                "secret",
                "generic",
                &secret,
                "-n",
                namespace,
                "--from-file=value=/dev/stdin",
            ],
            Some(&kubeconfig),
        );
    }
    management
}

/// The box's admin kubeconfig at `path` with `token` instead of the admin token.
fn with_token(path: &Path, token: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let admin = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .to_string();
    text.replace(&admin, token)
}

#[tokio::test(flavor = "multi_thread")]
async fn real_flux_rolls_a_module_out_in_waves_and_halts_on_a_bad_version() {
    let Some(mut l) = Loop::start(3).await else {
        return;
    };
    let mgmt = "mgmt";
    let namespace = l.fleet_box.env.namespace.clone();
    l.fleet_box.kubectl(
        mgmt,
        &["label", "cluster", "w1", "-n", &namespace, "canary=true"],
    );

    // Cluster API → inventory, read with the deploy/rbac role.
    let synced = l.inventory_sync();
    assert!(synced.contains("3 written"), "{synced}");
    let w1 = std::fs::read_to_string(l.fleet.path().join("inventory/w1.yaml")).unwrap();
    assert!(w1.contains("canary: \"true\""), "{w1}");
    l.commit_fleet("inventory");

    // The first wave: the canary.
    let run = l.reconcile();
    run.success();
    let pulls = l.open_pulls();
    assert_eq!(pulls.len(), 1, "{}", run.stderr());
    assert!(pulls[0].title.contains("wave canary"), "{}", pulls[0].title);
    l.merge();
    for cluster in ["w1", "w2", "w3"] {
        l.bootstrap(cluster);
    }
    let k = l.wait_ready("w1", "1");
    let configmap = l.configmap("w1");
    assert_eq!(configmap["data"]["cluster"], "w1");
    assert_eq!(configmap["data"]["greeting"], "hello");
    assert!(
        l.fleet_box
            .get("w1", "service", "hello", "default")
            .is_some()
    );
    assert!(l.kustomization("w2").is_err(), "w2 waits for its wave");
    // A cluster whose wave has not come follows an empty folder: its sync is Ready, sparse.
    let rendered = l.rendered();
    assert!(
        rendered.contains_key("clusters/w2/kustomization.yaml"),
        "{:?}",
        rendered.keys()
    );
    for cluster in ["w1", "w2"] {
        let root = l
            .fleet_box
            .get(cluster, "kustomization", "fleeet", "flux-system")
            .unwrap();
        assert_eq!(condition(&root, "Ready")["status"], "True", "{root}");
        let source = l
            .fleet_box
            .get(cluster, "gitrepository", "fleeet", "flux-system")
            .unwrap();
        let sparse = &source["status"]["observedSparseCheckout"];
        assert_eq!(
            sparse,
            &serde_json::json!([format!("clusters/{cluster}")]),
            "{source}"
        );
    }

    // Health, read back through the kubeconfig Secrets.
    let health = l.status();
    let hello = &health["clusters"]["w1"]["modules"]["hello"];
    assert_eq!(hello["ready"], true, "{health}");
    assert!(
        hello["revision"].as_str().unwrap().starts_with("v1@sha1:"),
        "{health}"
    );

    // The next wave only once the canary is Ready and baked.
    let ready_at: jiff::Timestamp = condition(&k, "Ready")["lastTransitionTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let run = l.reconcile_until_pull(Duration::from_secs(90));
    let waited = jiff::Timestamp::now().duration_since(ready_at);
    assert!(
        waited >= jiff::SignedDuration::from_secs(20),
        "proposed {waited:?} after Ready: {}",
        run.stderr()
    );
    assert!(
        l.open_pulls()[0].title.contains("wave rest"),
        "{:?}",
        l.open_pulls()
    );
    l.merge();
    for cluster in ["w1", "w2", "w3"] {
        l.sync(cluster);
    }
    for cluster in ["w2", "w3"] {
        l.wait_ready(cluster, "1");
        assert_eq!(l.configmap(cluster)["data"]["cluster"], cluster);
    }

    // The rollout completes: its record leaves the rendered branch, then nothing is left to do.
    l.reconcile_until_pull(Duration::from_secs(90));
    l.merge();
    assert!(
        !l.rendered().keys().any(|p| p.starts_with(".fleeet/")),
        "{:?}",
        l.rendered().keys()
    );
    l.reconcile().success();
    assert!(l.open_pulls().is_empty(), "{:?}", l.open_pulls());

    // A bad version: real Flux reports the API server's refusal and the rollout halts.
    std::fs::write(
        l.fleet.path().join("modules/hello.yaml"),
        hello_module(&l.hello_url, "3"),
    )
    .unwrap();
    l.commit_fleet("hello v3");
    l.reconcile().success();
    l.merge();
    l.sync("w1");
    let failed = l.fleet_box.wait_for("hello v3 failing on w1", FLUX, || {
        let k = l.kustomization("w1")?;
        let ready = condition(&k, "Ready");
        if ready["status"] == "False"
            && ready["message"]
                .as_str()
                .unwrap_or_default()
                .contains("70000")
        {
            Ok(ready)
        } else {
            Err(ready.to_string())
        }
    });
    let run = l.reconcile();
    run.success();
    let halt = l.open_pulls();
    assert_eq!(halt.len(), 1, "the halt is recorded: {}", run.stderr());
    let body = halt[0].body.clone().unwrap_or_default();
    assert!(
        body.contains("w1") && body.contains("70000"),
        "{body}\nFlux: {failed}"
    );
    l.merge();
    l.reconcile().success();
    assert!(
        l.open_pulls().is_empty(),
        "nothing moves after a halt: {:?}",
        l.open_pulls()
    );
    let rendered = l.rendered();
    for cluster in ["w2", "w3"] {
        assert!(
            rendered[&format!("clusters/{cluster}/hello.yaml")].contains("tag: v1"),
            "{cluster} stays on v1"
        );
    }

    // A cluster whose API server is down is unknown, never healthy.
    l.fleet_box.control("stop-cluster", "w3");
    let health = l.status();
    assert_eq!(health["clusters"]["w3"]["reachable"], false, "{health}");
    assert_eq!(
        health["clusters"]["w2"]["modules"]["hello"]["ready"], true,
        "{health}"
    );

    // A Cluster API cluster deleted: it leaves the inventory, and its folder the rendered branch.
    l.fleet_box
        .kubectl(mgmt, &["delete", "cluster", "w2", "-n", &namespace]);
    let synced = l.inventory_sync();
    assert!(synced.contains("1 removed"), "{synced}");
    assert!(!l.fleet.path().join("inventory/w2.yaml").exists());
    l.commit_fleet("inventory: w2 is gone");
    l.reconcile_until_pull(Duration::from_secs(30));
    l.merge();
    assert!(
        !l.rendered().keys().any(|p| p.starts_with("clusters/w2/")),
        "{:?}",
        l.rendered().keys()
    );
}
