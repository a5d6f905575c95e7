//! Zero-touch onboarding against real Flux: the management cluster's Flux bootstraps every
//! cluster Cluster API creates, through remote Kustomizations, and nothing is run against the
//! workload clusters. The box starts a workload cluster's Flux controllers when their
//! Deployments appear there, as a kubelet would.

use std::time::Duration;

use super::{FLUX, Loop, condition, hello_module, management_identity, ready_at};
use crate::support::fleet_box::FleetBox;

const MGMT: &str = "mgmt";
const ONBOARDING: Duration = Duration::from_secs(180);

fn fleet_yaml(url: &str) -> String {
    format!(
        "apiVersion: fleeet.dev/v1alpha1
kind: Fleet
metadata:
  name: box
spec:
  output:
    branch: fleeet/rendered
  management:
    cluster: mgmt
    url: {url}
    gitSecret: fleeet-git
  rollout:
    bakeTime: 10s
    progressDeadline: 3m
    waves:
      - name: canary
        selector:
          matchLabels:
            canary: \"true\"
      - name: rest
  github:
    branch: fleeet/next
"
    )
}

const MGMT_CLUSTER: &str = "\
apiVersion: fleeet.dev/v1alpha1
kind: Cluster
metadata:
  name: mgmt
  labels:
    role: management
";

fn flux_module(url: &str, version: &str) -> String {
    format!(
        "apiVersion: fleeet.dev/v1alpha1
kind: BootstrapModule
metadata:
  name: flux
spec:
  version: \"{version}\"
  source:
    git:
      url: {url}
      path: ./
      tag: \"v{{{{ version }}}}\"
  selector:
    matchLabels:
      fleeet.dev/box: \"true\"
  timeout: 1m
"
    )
}

/// Flux as a BootstrapModule installs it: its CRDs, its namespace and the controllers'
/// Deployments (the box runs the controllers once these appear), and a ConfigMap naming the
/// version. Tags v1 and v2.
fn publish_flux(fleet_box: &FleetBox) -> String {
    let mut crds = Vec::new();
    for entry in std::fs::read_dir(&fleet_box.env.crds).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.contains(".toolkit.fluxcd.io_") {
            crds.push((
                format!("crd-{name}"),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    let versions: Vec<_> = ["1", "2"]
        .into_iter()
        .map(|version| {
            let mut files = crds.clone();
            files.push(("flux.yaml".to_string(), flux_objects(version)));
            (version, files)
        })
        .collect();
    fleet_box.publish_module("flux", &versions)
}

/// The objects of Flux at `version`: its namespace, a ConfigMap naming the version, and the
/// controllers' Deployments.
fn flux_objects(version: &str) -> String {
    let mut objects =
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n".to_string();
    objects.push_str(&format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flux-version\n  namespace: flux-system\ndata:\n  version: \"{version}\"\n"
    ));
    for controller in ["source-controller", "kustomize-controller"] {
        objects.push_str(&format!(
            "---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {controller}
  namespace: flux-system
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {controller}
  template:
    metadata:
      labels:
        app: {controller}
    spec:
      containers:
        - name: manager
          image: ghcr.io/fluxcd/{controller}
          env:
            - name: FLUX_BUNDLE
              value: \"v{version}\"
"
        ));
    }
    objects
}

impl Loop {
    /// Reconciles and merges until no rollout record is left on the rendered branch.
    fn settle(&self) {
        self.fleet_box.wait_for("every rollout complete", FLUX, || {
            self.reconcile().success();
            if !self.open_pulls().is_empty() {
                self.merge();
                self.sync(MGMT);
            }
            match self.rendered().keys().find(|p| p.starts_with(".fleeet/")) {
                Some(record) => Err(format!("{record} is still there")),
                None => Ok(()),
            }
        });
    }

    /// The Kustomization `name` on the management cluster, in the Cluster API namespace.
    fn remote(&self, name: &str) -> Option<serde_json::Value> {
        let namespace = &self.fleet_box.env.namespace;
        self.fleet_box.get(MGMT, "kustomization", name, namespace)
    }

    /// Waits until the management cluster's remote Kustomization `name` is Ready at `version`.
    fn wait_remote_ready(&self, name: &str, version: &str) -> serde_json::Value {
        self.fleet_box.wait_for(
            &format!("{name} Ready at v{version} on mgmt"),
            ONBOARDING,
            || {
                ready_at(
                    self.remote(name).ok_or("not there yet")?.to_owned(),
                    version,
                )
            },
        )
    }

    /// Waits until the ConfigMap `hello` is on `cluster`: it got there with no command run
    /// against the cluster.
    fn wait_hello(&self, cluster: &str) {
        self.fleet_box
            .wait_for(&format!("hello applied on {cluster}"), ONBOARDING, || {
                let configmap = self
                    .fleet_box
                    .get(cluster, "configmap", "hello", "default")
                    .ok_or("no ConfigMap hello yet")?;
                (configmap["data"]["cluster"] == cluster)
                    .then_some(())
                    .ok_or(configmap.to_string())
            });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_management_cluster_bootstraps_each_new_cluster_and_lets_go_of_deleted_ones() {
    let Some(fleet_box) = FleetBox::up(1, "on-deployment") else {
        return;
    };
    // fleeet reads the management cluster as the ServiceAccount of deploy/rbac, whose roles
    // include listing the remote Kustomizations for bootstrap health.
    let management = management_identity(&fleet_box);
    let namespace = fleet_box.env.namespace.clone();
    let flux_url = publish_flux(&fleet_box);
    let mut l = Loop::start(fleet_box, management).await;
    let box_clusters = "selector:\n    matchLabels:\n      fleeet.dev/box: \"true\"";
    l.write("fleet.yaml", &fleet_yaml(&l.origin_url));
    l.write("clusters/mgmt.yaml", MGMT_CLUSTER);
    l.write("modules/flux.yaml", &flux_module(&flux_url, "1"));
    l.write(
        "modules/hello.yaml",
        &hello_module(&l.hello_url, "1").replace("selector: {}", box_clusters),
    );

    // The one manual step, for the whole fleet: the management cluster follows its folder. The
    // git credentials for the rendered branch live only in a Secret on the management cluster.
    let sync = l
        .fleeet(&["bootstrap", MGMT, "--url", &l.origin_url])
        .success();
    l.fleet_box
        .kubectl_in(MGMT, &["apply", "-f", "-"], Some(&sync));
    l.fleet_box.kubectl(
        MGMT,
        &[
            "create",
            "secret",
            "generic",
            "fleeet-git",
            "-n",
            &namespace,
            "--from-literal=username=box",
            "--from-literal=password=s3cret",
        ],
    );
    l.fleet_box.kubectl(
        MGMT,
        &["label", "cluster", "w1", "-n", &namespace, "canary=true"],
    );
    l.inventory_sync();
    l.commit_fleet("The fleet");

    // One merged reconcile, and w1 runs Flux and its modules: nothing was run against it.
    l.reconcile().success();
    l.merge();
    l.sync(MGMT);
    l.wait_hello("w1");
    l.wait_remote_ready("w1.flux", "1");
    let sync = l.remote("w1.fleeet").expect("w1.fleeet on mgmt");
    assert_eq!(condition(&sync, "Ready")["status"], "True", "{sync}");
    let credentials = l
        .fleet_box
        .get("w1", "secret", "fleeet-git", "flux-system")
        .expect("the git Secret on w1");
    assert_eq!(
        credentials["data"]["username"], "Ym94",
        "substituted from mgmt: {credentials}"
    );
    assert_eq!(credentials["data"]["password"], "czNjcmV0", "{credentials}");
    let health = l.status();
    assert_eq!(
        health["bootstrap"]["w1"]["modules"]["flux"]["ready"], true,
        "{health}"
    );
    l.settle();

    // A new Cluster API cluster: inventory sync and one merged reconcile, nothing else.
    l.fleet_box.control("add-cluster", "w2");
    let synced = l.inventory_sync();
    assert!(synced.contains("1 written"), "{synced}");
    l.commit_fleet("inventory: w2");
    l.reconcile().success();
    l.merge();
    l.sync(MGMT);
    l.wait_hello("w2");
    l.wait_remote_ready("w2.flux", "1");

    // A Flux upgrade is a bootstrap module bump rolled out in waves, gated on the management
    // cluster's view: the canary first.
    l.write("modules/flux.yaml", &flux_module(&flux_url, "2"));
    l.commit_fleet("flux v2");
    l.reconcile().success();
    let canary = l.merge();
    assert!(canary.title.contains("wave canary"), "{}", canary.title);
    let rendered = l.rendered();
    assert!(rendered["clusters/mgmt/_bootstrap/w1/flux.yaml"].contains("tag: v2"));
    assert!(
        rendered["clusters/mgmt/_bootstrap/w2/flux.yaml"].contains("tag: v1"),
        "w2 waits"
    );
    assert!(
        !rendered.contains_key("clusters/w1/flux.yaml"),
        "not in w1's own folder"
    );
    l.sync(MGMT);
    l.wait_remote_ready("w1.flux", "2");
    let version = l
        .fleet_box
        .get("w1", "configmap", "flux-version", "flux-system")
        .unwrap();
    assert_eq!(version["data"]["version"], "2");

    // w1 stops answering: its bootstrap pair is judged by the management cluster, so the next
    // wave still comes once the canary has baked.
    l.fleet_box.control("stop-cluster", "w1");
    let run = l.reconcile_until_pull(Duration::from_secs(60));
    let rest = l.open_pulls().remove(0);
    assert!(
        rest.title.contains("wave rest"),
        "{}\n{}",
        rest.title,
        run.stderr()
    );
    l.merge();
    l.sync(MGMT);
    l.wait_remote_ready("w2.flux", "2");

    // Cluster API deletes w1 and its kubeconfig Secret (its API server is already down): its
    // remote Kustomizations leave the management cluster, none stuck in a finalizer.
    l.fleet_box.control("remove-cluster", "w1");
    let synced = l.inventory_sync();
    assert!(synced.contains("1 removed"), "{synced}");
    l.commit_fleet("inventory: w1 is gone");
    l.reconcile_until_pull(Duration::from_secs(30));
    l.merge();
    assert!(
        !l.rendered().keys().any(|p| p.contains("/w1/")),
        "{:?}",
        l.rendered().keys()
    );
    l.sync(MGMT);
    l.fleet_box
        .wait_for("w1's Kustomizations gone from mgmt", FLUX, || {
            match ["w1.flux", "w1.fleeet"]
                .iter()
                .find_map(|name| l.remote(name))
            {
                Some(left) => Err(format!("{}", left["metadata"])),
                None => Ok(()),
            }
        });
    assert!(l.remote("w2.flux").is_some());
}
