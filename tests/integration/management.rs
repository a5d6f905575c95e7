//! `spec.management`: the management cluster's folder bootstraps every other cluster.

use std::collections::BTreeMap;

use crate::support::{Fleet, read_tree};

const FLEET: &str = "apiVersion: fleeet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: test\nspec:\n  management:\n    cluster: mgmt\n    url: https://git.example/fleet\n    gitSecret: fleeet-git\n";

/// mgmt (runs Cluster API), w1 (from Cluster API), w2 (hand-written, names its kubeconfig
/// Secret), edge (hand-written, bootstrapped by hand); two bootstrap modules and a module.
fn fleet() -> Fleet {
    Fleet::empty()
        .file("fleet.yaml", FLEET)
        .cluster("mgmt", "{role: mgmt}")
        .file(
            "inventory/w1.yaml",
            "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: w1\n  labels: {env: prod}\nspec:\n  facts:\n    clusterAPI: {namespace: capi-prod, name: w1}\n",
        )
        .file(
            "clusters/w2.yaml",
            "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: w2\nspec:\n  kubeconfigSecret: {name: w2-access, namespace: edge}\n",
        )
        .cluster("edge", "{}")
        .file(
            "modules/flux.yaml",
            "apiVersion: fleeet.dev/v1alpha1\nkind: BootstrapModule\nmetadata:\n  name: flux\nspec:\n  version: 2.6.0\n  source:\n    git: {url: \"https://github.com/fluxcd/flux2\", path: ./manifests/install, tag: \"v{{ version }}\"}\n  selector: {}\n  values: {cluster_name: \"{{ cluster.name }}\"}\n",
        )
        .file(
            "modules/base.yaml",
            "apiVersion: fleeet.dev/v1alpha1\nkind: BootstrapModule\nmetadata:\n  name: base\nspec:\n  version: \"1.0\"\n  source: {oci: {url: \"oci://registry.example/base\"}}\n  selector: {}\n  dependsOn: [flux]\n",
        )
        .module(
            "app",
            "  version: \"3\"\n  source: {git: {url: \"https://git.example/app\"}}\n  selector: {}\n  dependsOn: [base]\n",
        )
}

fn render(fleet: &Fleet) -> BTreeMap<String, String> {
    let out = fleet.path().join("out");
    fleet
        .run(&["render", "--out", out.to_str().unwrap()])
        .success();
    read_tree(&out)
}

fn folder(files: &BTreeMap<String, String>, prefix: &str) -> String {
    files
        .iter()
        .filter(|(path, _)| path.starts_with(prefix))
        .map(|(path, content)| format!("# {path}\n{content}"))
        .collect()
}

#[test]
fn the_management_folder_bootstraps_every_other_cluster() {
    let files = render(&fleet());
    insta::assert_snapshot!("management_folder", folder(&files, "clusters/mgmt/"));

    // w1 follows its folder without its bootstrap modules, and its modules wait for none.
    assert_eq!(
        files["clusters/w1/kustomization.yaml"],
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- app.yaml\n"
    );
    assert!(
        !files["clusters/w1/app.yaml"].contains("dependsOn"),
        "{}",
        files["clusters/w1/app.yaml"]
    );
    // w2's objects are where its hand-named Secret is.
    let w2 = &files["clusters/mgmt/_bootstrap/w2/flux.yaml"];
    assert!(
        w2.contains("namespace: edge\n") && w2.contains("name: w2-access\n"),
        "{w2}"
    );
    // edge cannot be reached from mgmt: it keeps its bootstrap modules and `fleeet bootstrap`.
    assert!(!files.keys().any(|p| p.contains("_bootstrap/edge/")));
    assert!(files["clusters/edge/app.yaml"].contains("- name: base\n"));
    assert!(files.contains_key("clusters/edge/flux.yaml"));
    // mgmt applies its own bootstrap modules as any cluster does.
    assert!(files.contains_key("clusters/mgmt/flux.yaml"));
    assert!(!files.keys().any(|p| p.contains("_bootstrap/mgmt/")));
    // No credentials in any file: only a reference and the variables.
    assert!(files.values().all(|f| !f.contains("password: \"ghp")));
}

#[test]
fn names_stay_within_63_characters_for_long_cluster_names() {
    let long = "a".repeat(60);
    let fleet = fleet().file(
        &format!("inventory/{long}.yaml"),
        &format!(
            "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: {long}\nspec:\n  facts:\n    clusterAPI: {{namespace: capi, name: {long}}}\n"
        ),
    );
    let files = render(&fleet);
    let pointer = &files[&format!("clusters/mgmt/_bootstrap/{long}/flux.yaml")];
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(pointer).unwrap();
    for doc in &docs {
        let name = doc["metadata"]["name"].as_str().unwrap();
        assert!(name.len() <= 63, "{name}");
        assert!(name.starts_with(&long[..40]), "{name}");
    }
    let base = &files[&format!("clusters/mgmt/_bootstrap/{long}/base.yaml")];
    let base: Vec<serde_json::Value> = serde_saphyr::from_multiple(base).unwrap();
    assert_eq!(
        base[1]["spec"]["dependsOn"][0]["name"], docs[1]["metadata"]["name"],
        "dependsOn names the shortened name"
    );
}

#[test]
fn bad_management_settings_are_errors_with_their_place() {
    let fleet = fleet().file(
        "fleet.yaml",
        "apiVersion: fleeet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: test\nspec:\n  management:\n    cluster: mgnt\n    kubeconfigSecret: \"{{ name \"\n    url: git@example:fleet\n",
    );
    let err = fleet.run(&["validate"]).failure(1);
    assert!(
        err.contains("fleet.yaml:7:14: spec.management.cluster: there is no cluster \"mgnt\"")
            && err.contains("did you mean \"mgmt\"?"),
        "{err}"
    );
    assert!(
        err.contains(
            "fleet.yaml:8:23: spec.management.kubeconfigSecret \"{{ name \" is not a template"
        ),
        "{err}"
    );
    assert!(
        err.contains("fleet.yaml:9:10: spec.management.url"),
        "{err}"
    );
}

#[test]
fn a_kubeconfig_secret_template_that_fails_names_the_cluster() {
    let fleet = fleet().file(
        "fleet.yaml",
        &FLEET.replace(
            "    url:",
            "    kubeconfigSecret: \"{{ labels.tier }}-kubeconfig\"\n    url:",
        ),
    );
    let err = fleet.run(&["validate"]).failure(1);
    assert!(
        err.contains("fleet.yaml:8:23: cluster \"w1\": spec.management.kubeconfigSecret \"{{ labels.tier }}-kubeconfig\" cannot be rendered"),
        "{err}"
    );
}

#[test]
fn helm_bootstrap_modules_are_refused_with_management() {
    let fleet = fleet().file(
        "modules/base.yaml",
        "apiVersion: fleeet.dev/v1alpha1\nkind: BootstrapModule\nmetadata:\n  name: base\nspec:\n  version: \"1.0\"\n  source: {helm: {repository: \"https://charts.example\", chart: base}}\n  selector: {}\n",
    );
    let err = fleet.run(&["validate"]).failure(1);
    assert!(
        err.contains("modules/base.yaml:4:9: bootstrap module \"base\" has a helm source"),
        "{err}"
    );
}

fn plan(fleet: &Fleet, args: &[&str]) -> String {
    let current = fleet.path().join("rendered");
    let mut all = vec![
        "plan",
        "--current-dir",
        current.to_str().unwrap(),
        "--now",
        "2026-11-21T12:00:00Z",
    ];
    all.extend_from_slice(args);
    fleet.run(&all).success()
}

#[test]
fn a_bootstrap_upgrade_rolls_out_in_waves_gated_by_the_management_cluster() {
    let waves = "  rollout:\n    waves:\n      - {name: first, selector: {matchLabels: {env: prod}}}\n      - {name: rest}\n";
    let fleet = fleet().file("fleet.yaml", &format!("{FLEET}{waves}"));
    let current = fleet.path().join("rendered");
    let write = ["--write", current.to_str().unwrap()];
    fleet
        .run(&["render", "--out", current.to_str().unwrap()])
        .success();
    let files = read_tree(&current);
    assert!(files.contains_key("clusters/mgmt/_bootstrap/w1/_sync.yaml"));
    let snapshot = crate::support::healthy_snapshot(&files, "2026-11-21T09:00:00Z");
    assert!(snapshot.contains("bootstrap:\n  w1:"), "{snapshot}");
    let flux = fleet.path().join("modules/flux.yaml");
    let text = std::fs::read_to_string(&flux).unwrap();
    std::fs::write(&flux, text.replace("2.6.0", "2.7.0")).unwrap();

    // The first wave goes at once, and says where it is applied from.
    let health = fleet.path().join("health.yaml");
    let table = plan(&fleet, &["--format", "table"]);
    assert!(
        table.contains("flux (wave first, applied from mgmt): w1"),
        "{table}"
    );
    let markdown = plan(&fleet, &["--format", "markdown"]);
    assert!(
        markdown.contains("w1 (2.6.0 → 2.7.0, applied from mgmt)"),
        "{markdown}"
    );
    plan(&fleet, &write);
    // w1 itself is unreachable, but the management cluster sees its remote Kustomization at
    // the new version: the next wave goes ahead.
    let files = read_tree(&current);
    let mut snapshot = crate::support::healthy_snapshot(&files, "2026-11-21T09:00:00Z");
    snapshot = snapshot.replacen(
        "  w1:\n    reachable: true\n",
        "  w1:\n    reachable: false\n    error: Flux CRDs missing\n",
        1,
    );
    std::fs::write(&health, &snapshot).unwrap();
    let json: serde_json::Value = serde_json::from_str(&plan(
        &fleet,
        &["--health", health.to_str().unwrap(), "--format", "json"],
    ))
    .unwrap();
    let flux = json["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["module"] == "flux")
        .unwrap();
    assert_eq!(flux["state"], "advancing", "{flux}");
    assert_eq!(flux["waves"][1]["status"], "applying", "{flux}");

    // Without the management cluster's view, the wave waits.
    let blind = snapshot.split("bootstrap:\n").next().unwrap();
    std::fs::write(&health, blind).unwrap();
    let json: serde_json::Value = serde_json::from_str(&plan(
        &fleet,
        &["--health", health.to_str().unwrap(), "--format", "json"],
    ))
    .unwrap();
    let flux = json["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["module"] == "flux")
        .unwrap();
    assert_eq!(flux["state"], "waiting", "{flux}");
}

#[test]
fn a_cluster_gone_from_the_fleet_loses_its_bootstrap_objects_at_once() {
    let fleet = fleet();
    let current = fleet.path().join("rendered");
    plan(&fleet, &["--write", current.to_str().unwrap()]);
    assert!(read_tree(&current).contains_key("clusters/mgmt/_bootstrap/w1/flux.yaml"));
    std::fs::remove_file(fleet.path().join("inventory/w1.yaml")).unwrap();
    let table = plan(&fleet, &["--write", current.to_str().unwrap()]);
    assert!(
        table.contains("Clusters removed from the fleet: w1"),
        "{table}"
    );
    let files = read_tree(&current);
    assert!(
        !files.keys().any(|p| p.contains("w1")),
        "{:?}",
        files.keys().collect::<Vec<_>>()
    );
    assert!(!files["clusters/mgmt/kustomization.yaml"].contains("w1"));
}

#[test]
fn a_change_of_the_repository_url_rewrites_the_syncs_though_no_pointer_changes() {
    let fleet = fleet();
    let current = fleet.path().join("rendered");
    fleet
        .run(&["render", "--out", current.to_str().unwrap()])
        .success();
    let changed = |fleet: &Fleet| {
        let json: serde_json::Value =
            serde_json::from_str(&plan(fleet, &["--format", "json"])).unwrap();
        json["changed"].as_bool().unwrap()
    };
    assert!(!changed(&fleet), "nothing to do on a fresh render");
    let fleet = fleet.file(
        "fleet.yaml",
        &FLEET.replace("https://git.example/fleet", "https://git.example/moved"),
    );
    assert!(changed(&fleet));
    plan(&fleet, &["--write", current.to_str().unwrap()]);
    let sync =
        std::fs::read_to_string(current.join("clusters/mgmt/_bootstrap/w1/_sync/fleeet.yaml"))
            .unwrap();
    assert!(sync.contains("url: https://git.example/moved\n"), "{sync}");
    assert!(!changed(&fleet));
}
