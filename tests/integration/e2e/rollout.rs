//! The loop of waves against real Flux, with exactly the roles of `deploy/rbac/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{FLUX, Loop, condition, hello_module, management_identity, with_token};
use crate::support::fleet_box::FleetBox;

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

/// Applies deploy/rbac to every cluster of the box and returns a management kubeconfig for the
/// `fleeet` ServiceAccount; each workload cluster's `fleeet-health` kubeconfig goes into the
/// Secret `<name>-fleeet-health` on the management cluster.
fn grant_deploy_rbac(fleet_box: &FleetBox) -> PathBuf {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac");
    let namespace = &fleet_box.env.namespace;
    let mgmt = "mgmt";
    let management = management_identity(fleet_box);
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

#[tokio::test(flavor = "multi_thread")]
async fn real_flux_rolls_a_module_out_in_waves_and_halts_on_a_bad_version() {
    let Some(fleet_box) = FleetBox::up(3, "always") else {
        return;
    };
    let management = grant_deploy_rbac(&fleet_box);
    let mut l = Loop::start(fleet_box, management).await;
    l.write("fleet.yaml", FLEET_YAML);
    l.write("modules/hello.yaml", &hello_module(&l.hello_url, "1"));
    l.commit_fleet("The fleet");
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
    l.write("modules/hello.yaml", &hello_module(&l.hello_url, "3"));
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
