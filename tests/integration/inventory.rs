//! `fleeet inventory sync` against fake management clusters, through the real kube client.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::support::kube::{FakeCluster, Fault};
use crate::support::objects::{cluster_v1beta1, cluster_v1beta2, config_map};
use crate::support::{fleeet, fleet, kubeconfig_file, management};

const INVENTORY_SPEC: &str = "  inventory:
    annotations: [fleeet.dev/owner]
    facts:
      - name: region
        fieldPath: /spec/topology/variables/0/value
    valuesConfigMap: \"{{ name }}-fleeet\"
";

const HAND_WRITTEN: &str = "apiVersion: fleeet.dev/v1alpha1
kind: Cluster
metadata:
  name: prod-eu-1
  labels:
    canary: \"true\"
";

const MODULE: &str = "apiVersion: fleeet.dev/v1alpha1
kind: Module
metadata:
  name: ingress
spec:
  version: 1.4.2
  source:
    git:
      url: https://github.com/acme/ingress
  selector:
    matchLabels:
      env: prod
  values:
    replicas: \"{{ cluster.values.ingressReplicas | default('2') }}\"
";

fn sync(fleet: &Path, kubeconfig: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    fleeet()
        .args(["inventory", "sync", "--fleet"])
        .arg(fleet)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .assert()
}

/// Every file under `inventory/`, by name, with its content and modification time.
fn inventory(fleet: &Path) -> BTreeMap<String, (String, SystemTime)> {
    let Ok(entries) = fs::read_dir(fleet.join("inventory")) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| {
            let e = e.unwrap();
            let text = fs::read_to_string(e.path()).unwrap();
            let modified = e.metadata().unwrap().modified().unwrap();
            (e.file_name().into_string().unwrap(), (text, modified))
        })
        .collect()
}

fn names(fleet: &Path) -> Vec<String> {
    inventory(fleet).into_keys().collect()
}

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

fn prod_management() -> FakeCluster {
    let mgmt = management(&["v1beta2", "v1beta1"]);
    let mut prod = cluster_v1beta2(
        "fleet-prod",
        "prod-eu-1",
        &[("env", "prod"), ("region", "eu-west-1")],
    );
    prod["metadata"]["annotations"] = json!({"fleeet.dev/owner": "team-eu", "kubectl.kubernetes.io/last-applied-configuration": "{}"});
    let mut deleting = cluster_v1beta2("fleet-prod", "prod-old-1", &[("env", "prod")]);
    deleting["metadata"]["deletionTimestamp"] = json!("2026-11-21T09:00:00Z");
    mgmt.put(prod)
        .put(deleting)
        .put(cluster_v1beta2(
            "fleet-staging",
            "staging-eu-1",
            &[("env", "staging")],
        ))
        .put(config_map(
            "fleet-prod",
            "prod-eu-1-fleeet",
            &[("ingressReplicas", "4")],
        ));
    mgmt
}

#[test]
fn a_management_cluster_written_by_hand_and_a_broken_module_do_not_stop_the_sync() {
    let mgmt = prod_management();
    let spec = "  management:\n    cluster: mgmt\n    url: https://git.example/fleet\n";
    let hand_written = "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: mgmt\n";
    let fleet = fleet(
        spec,
        &[
            ("clusters/mgmt.yaml", hand_written),
            ("modules/broken.yaml", "kind: Module\nspec: [unclosed\n"),
        ],
    );
    let kubeconfig = kubeconfig_file(fleet.path(), &mgmt, "default");
    let run = sync(fleet.path(), &kubeconfig, &["--all-namespaces"]).success();
    assert!(
        stderr(&run).contains("synced 2 clusters"),
        "{}",
        stderr(&run)
    );
    assert_eq!(names(fleet.path()), ["prod-eu-1.yaml", "staging-eu-1.yaml"]);
}

#[test]
fn syncs_v1beta2_clusters_into_loadable_canonical_files_and_rewrites_nothing_unchanged() {
    let mgmt = prod_management();
    let fleet = fleet(
        INVENTORY_SPEC,
        &[
            ("clusters/prod-eu-1.yaml", HAND_WRITTEN),
            ("modules/ingress.yaml", MODULE),
        ],
    );
    let kubeconfig = kubeconfig_file(fleet.path(), &mgmt, "default");
    let first = sync(fleet.path(), &kubeconfig, &["--all-namespaces"]).success();
    assert!(
        stderr(&first).contains("synced 2 clusters (cluster.x-k8s.io/v1beta2, all namespaces)"),
        "{}",
        stderr(&first)
    );
    assert!(
        mgmt.requests()
            .iter()
            .any(|r| r.starts_with("/apis/cluster.x-k8s.io/v1beta2/clusters?")),
        "{:?}",
        mgmt.requests()
    );
    let files = inventory(fleet.path());
    assert_eq!(names(fleet.path()), ["prod-eu-1.yaml", "staging-eu-1.yaml"]);
    assert_eq!(
        files["prod-eu-1.yaml"].0,
        "\
# Written by `fleeet inventory sync` from Cluster API; do not edit.
apiVersion: fleeet.dev/v1alpha1
kind: Cluster
metadata:
  name: prod-eu-1
  labels:
    env: prod
    region: eu-west-1
  annotations:
    fleeet.dev/owner: team-eu
spec:
  values:
    ingressReplicas: \"4\"
  facts:
    class: standard
    clusterAPI:
      name: prod-eu-1
      namespace: fleet-prod
      uid: 0f3c0009-uid-prod-eu-1
    controlPlaneEndpoint:
      host: prod-eu-1.api.example
      port: 6443
    controlPlaneReady: true
    infrastructureReady: true
    kubernetesVersion: v1.33.2
    phase: Provisioned
    region: eu-west-1
"
    );
    assert!(
        !files["staging-eu-1.yaml"].0.contains("values:"),
        "no ConfigMap, no values"
    );
    assert_eq!(
        fs::read_to_string(fleet.path().join("clusters/prod-eu-1.yaml")).unwrap(),
        HAND_WRITTEN
    );

    let validate = fleeet()
        .args(["validate", "--fleet"])
        .arg(fleet.path())
        .assert()
        .success();
    let out = String::from_utf8_lossy(&validate.get_output().stdout).into_owned();
    assert!(out.contains("2 clusters, 1 module, 1 pointer"), "{out}");

    let again = sync(
        fleet.path(),
        &kubeconfig,
        &["--all-namespaces", "--format", "json"],
    )
    .success();
    let summary: serde_json::Value = serde_json::from_slice(&again.get_output().stdout).unwrap();
    assert_eq!(summary["written"], 0);
    assert_eq!(summary["unchanged"], 2);
    assert_eq!(inventory(fleet.path()), files, "nothing was rewritten");
}

#[test]
fn reads_v1beta1_from_older_management_clusters_and_follows_the_preferred_version() {
    let old = management(&["v1beta1"]);
    old.put(cluster_v1beta1("default", "edge-1", &[("env", "edge")]));
    let fleet = fleet("", &[]);
    let kubeconfig = kubeconfig_file(fleet.path(), &old, "default");
    sync(fleet.path(), &kubeconfig, &[]).success();
    let text = fs::read_to_string(fleet.path().join("inventory/edge-1.yaml")).unwrap();
    for fact in [
        "class: legacy",
        "controlPlaneReady: false",
        "infrastructureReady: true",
        "kubernetesVersion: v1.31.4",
        "phase: Provisioning",
    ] {
        assert!(text.contains(fact), "{fact} in {text}");
    }
    assert!(!text.contains("controlPlaneEndpoint"), "{text}");

    // Both served, v1beta1 preferred by the server: fleeet follows the server.
    let both = management(&["v1beta1", "v1beta2"]);
    both.put(cluster_v1beta1("default", "edge-1", &[("env", "edge")]));
    let kubeconfig = kubeconfig_file(fleet.path(), &both, "default");
    sync(fleet.path(), &kubeconfig, &[]).success();
    assert!(
        both.requests()
            .iter()
            .any(|r| r.starts_with("/apis/cluster.x-k8s.io/v1beta1/namespaces/default/clusters?"))
    );
}

#[test]
fn selects_by_namespace_and_labels() {
    let mgmt = management(&["v1beta2"]);
    mgmt.put(cluster_v1beta2("team-a", "a-prod", &[("env", "prod")]))
        .put(cluster_v1beta2("team-a", "a-dev", &[("env", "dev")]))
        .put(cluster_v1beta2("team-b", "b-prod", &[("env", "prod")]));
    let fleet = fleet("", &[]);
    let kubeconfig = kubeconfig_file(fleet.path(), &mgmt, "team-b");

    sync(
        fleet.path(),
        &kubeconfig,
        &["--namespace", "team-a", "--selector", "env=prod"],
    )
    .success();
    assert_eq!(names(fleet.path()), ["a-prod.yaml"]);

    sync(fleet.path(), &kubeconfig, &[]).success();
    assert_eq!(
        names(fleet.path()),
        ["b-prod.yaml"],
        "the context's namespace by default"
    );

    sync(fleet.path(), &kubeconfig, &["-A", "-l", "env!=dev"]).success();
    assert_eq!(names(fleet.path()), ["a-prod.yaml", "b-prod.yaml"]);

    sync(fleet.path(), &kubeconfig, &["-A", "--namespace", "x"]).code(2);
}

#[test]
fn removes_files_of_vanished_clusters_and_leaves_other_files_alone() {
    let mgmt = prod_management();
    let manual = "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: manual\n";
    let fleet = fleet(INVENTORY_SPEC, &[("clusters/prod-eu-1.yaml", HAND_WRITTEN)]);
    let kubeconfig = kubeconfig_file(fleet.path(), &mgmt, "default");
    sync(fleet.path(), &kubeconfig, &["-A"]).success();
    fs::write(fleet.path().join("inventory/manual.yaml"), manual).unwrap();

    mgmt.delete("Cluster", "fleet-staging", "staging-eu-1");
    let out = sync(fleet.path(), &kubeconfig, &["-A"]).success();
    assert!(
        stderr(&out).contains("0 written, 1 unchanged, 1 removed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(names(fleet.path()), ["manual.yaml", "prod-eu-1.yaml"]);
    assert_eq!(
        fs::read_to_string(fleet.path().join("clusters/prod-eu-1.yaml")).unwrap(),
        HAND_WRITTEN
    );
}

#[test]
fn clusters_of_the_same_name_in_two_namespaces_need_a_name_template() {
    let mgmt = management(&["v1beta2"]);
    mgmt.put(cluster_v1beta2("team-a", "web", &[]))
        .put(cluster_v1beta2("team-b", "web", &[]));
    let plain = fleet("", &[]);
    let kubeconfig = kubeconfig_file(plain.path(), &mgmt, "default");
    let out = sync(plain.path(), &kubeconfig, &["-A"]).code(1);
    let text = stderr(&out);
    assert!(
        text.contains("team-a/web and team-b/web would both be the inventory cluster \"web\""),
        "{text}"
    );
    assert!(text.contains("spec.inventory.name"), "{text}");
    assert!(names(plain.path()).is_empty(), "nothing is written");

    let templated = fleet(
        "  inventory:\n    name: \"{{ namespace }}-{{ name }}\"\n",
        &[],
    );
    sync(templated.path(), &kubeconfig, &["-A"]).success();
    assert_eq!(
        names(templated.path()),
        ["team-a-web.yaml", "team-b-web.yaml"]
    );
    let text = fs::read_to_string(templated.path().join("inventory/team-b-web.yaml")).unwrap();
    assert!(
        text.contains("  name: team-b-web\n") && text.contains("      name: web\n"),
        "{text}"
    );
}

#[test]
fn a_failure_anywhere_writes_nothing() {
    let mgmt = prod_management();
    let fleet = fleet(
        &format!("{INVENTORY_SPEC}  health:\n    timeout: 1s\n"),
        &[],
    );
    let kubeconfig = kubeconfig_file(fleet.path(), &mgmt, "default");
    sync(fleet.path(), &kubeconfig, &["-A"]).success();
    let before = inventory(fleet.path());
    // Changes the next sync would write, if it got that far.
    mgmt.delete("Cluster", "fleet-staging", "staging-eu-1");
    mgmt.put(cluster_v1beta2(
        "fleet-prod",
        "prod-eu-2",
        &[("env", "prod")],
    ));

    let faults = [
        ("/clusters?", Fault::Status(500, "InternalError", "etcdserver: request timed out".into()), "the server answered 500 InternalError: etcdserver"),
        ("/clusters?", Fault::Delay(Duration::from_secs(3)), "cannot list Cluster API clusters"),
        ("/clusters?", Fault::Truncate, "cannot be read"),
        ("/configmaps/prod-eu-1-fleeet", Fault::Status(403, "Forbidden", "configmaps \"prod-eu-1-fleeet\" is forbidden: User \"fleeet\" cannot get resource \"configmaps\"".into()), "cannot read ConfigMap fleet-prod/prod-eu-1-fleeet: forbidden"),
        ("/apis/cluster.x-k8s.io/v1beta2", Fault::Status(503, "ServiceUnavailable", "the server is currently unable to handle the request".into()), "cannot discover cluster.x-k8s.io"),
    ];
    for (path, fault, expected) in faults {
        mgmt.fault(path, fault.clone());
        let out = sync(fleet.path(), &kubeconfig, &["-A"]).code(3);
        assert!(
            stderr(&out).contains(expected),
            "{fault:?}: {}",
            stderr(&out)
        );
        assert_eq!(inventory(fleet.path()), before, "{fault:?} wrote something");
        mgmt.heal();
    }
    sync(fleet.path(), &kubeconfig, &["-A"]).success();
    assert_eq!(names(fleet.path()), ["prod-eu-1.yaml", "prod-eu-2.yaml"]);
}

#[test]
fn a_management_cluster_without_cluster_api_is_named() {
    let plain = FakeCluster::new();
    plain.require_token(crate::support::MANAGEMENT_TOKEN);
    let fleet = fleet("", &[]);
    let kubeconfig = kubeconfig_file(fleet.path(), &plain, "default");
    let out = sync(fleet.path(), &kubeconfig, &["-A"]).code(3);
    assert!(
        stderr(&out).contains("does not serve cluster.x-k8s.io"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_failure_on_a_later_page_of_the_list_writes_nothing() {
    // More clusters than one page (500): the list continues, and its second page fails.
    let mgmt = management(&["v1beta2"]);
    for i in 0..501 {
        mgmt.put(cluster_v1beta2(
            "fleet-prod",
            &format!("prod-{i:03}"),
            &[("env", "prod")],
        ));
    }
    let fleet = fleet(INVENTORY_SPEC, &[]);
    let kubeconfig = kubeconfig_file(fleet.path(), &mgmt, "default");
    sync(fleet.path(), &kubeconfig, &["-A"]).success();
    let before = inventory(fleet.path());
    assert_eq!(before.len(), 501);
    // A sync that believed the first page alone would remove prod-500's file.

    for (fault, expected) in [
        (
            Fault::Status(
                410,
                "Expired",
                "The provided continue parameter is too old".into(),
            ),
            "Expired",
        ),
        (
            Fault::Status(500, "InternalError", "etcdserver: leader changed".into()),
            "InternalError",
        ),
        (Fault::Truncate, "cannot be read"),
    ] {
        mgmt.fault("continue=", fault.clone());
        let out = sync(fleet.path(), &kubeconfig, &["-A"]).code(3);
        assert!(
            stderr(&out).contains(expected),
            "{fault:?}: {}",
            stderr(&out)
        );
        assert_eq!(inventory(fleet.path()), before, "{fault:?} wrote something");
        mgmt.heal();
    }
    assert!(
        mgmt.requests().iter().any(|r| r.contains("continue=500")),
        "the second page was asked for"
    );
    sync(fleet.path(), &kubeconfig, &["-A"]).success();
    assert_eq!(inventory(fleet.path()), before);
}
