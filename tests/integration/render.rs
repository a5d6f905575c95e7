//! Rendering: the example fleet, each source kind, dependencies, overlays, determinism.

use crate::support::{Fleet, example_fleet, read_tree, run_in};

fn render(fleet: &Fleet) -> std::collections::BTreeMap<String, String> {
    let out = fleet.path().join("out");
    fleet
        .run(&["render", "--out", out.to_str().unwrap()])
        .success();
    read_tree(&out)
}

#[test]
fn the_example_fleet_renders_every_cluster() {
    let files = render(&Fleet::example());
    let clusters: Vec<&str> = files
        .keys()
        .filter_map(|p| p.strip_suffix("/kustomization.yaml"))
        .filter_map(|p| p.strip_prefix("clusters/"))
        .collect();
    assert_eq!(clusters.len(), 11, "{clusters:?}");
    let prod_eu_1: String = files
        .iter()
        .filter(|(path, _)| path.starts_with("clusters/prod-eu-1/"))
        .map(|(path, content)| format!("# {path}\n{content}"))
        .collect();
    insta::assert_snapshot!("example_prod_eu_1", prod_eu_1);
    for (path, content) in &files {
        assert!(content.len() <= 2048, "{path} is {} bytes", content.len());
        assert!(
            !content.contains("{{"),
            "{path} holds an unrendered template"
        );
    }
}

#[test]
fn rendering_twice_is_byte_identical() {
    let fleet = Fleet::example();
    let first = render(&fleet);
    let other = fleet.path().join("again");
    fleet
        .run(&["render", "--out", other.to_str().unwrap()])
        .success();
    assert_eq!(first, read_tree(&other));
}

#[test]
fn every_cluster_folder_builds_with_kustomize() {
    if std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("kubectl is not installed: skipping the kustomize build check");
        return;
    }
    let fleet = Fleet::example();
    let out = fleet.path().join("out");
    fleet
        .run(&["render", "--out", out.to_str().unwrap()])
        .success();
    for cluster in std::fs::read_dir(out.join("clusters")).unwrap() {
        let dir = cluster.unwrap().path();
        let built = std::process::Command::new("kubectl")
            .arg("kustomize")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{}: {}",
            dir.display(),
            String::from_utf8_lossy(&built.stderr)
        );
        let text = String::from_utf8(built.stdout).unwrap();
        assert!(text.contains("kind: Kustomization"), "{text}");
    }
}

#[test]
fn each_source_kind_becomes_a_source_and_one_kustomization() {
    let fleet = Fleet::new()
        .cluster("a", "{env: prod}")
        .module("web", "  version: \"1.2.0\"\n  source:\n    git: {url: \"https://git.example/web\", path: ./deploy, tag: \"v{{ version }}\"}\n  selector: {}\n  values: {name: \"{{ cluster.name }}\"}\n")
        .module("cfg", "  version: \"3.0\"\n  source:\n    oci: {url: \"oci://registry.example/cfg\"}\n  selector: {}\n  timeout: 2m\n")
        .module("db", "  version: 15.1.0\n  source:\n    helm: {repository: \"oci://registry.example/charts\", chart: postgresql}\n  selector: {}\n  targetNamespace: db\n  values:\n    primary: {replicas: \"{{ 2 if cluster.labels.env == 'prod' else 1 }}\"}\n");
    let files = render(&fleet);
    let web = &files["clusters/a/web.yaml"];
    assert!(
        web.contains("kind: GitRepository")
            && web.contains("tag: v1.2.0")
            && web.contains("path: ./deploy"),
        "{web}"
    );
    assert!(web.contains("substitute:\n      name: a"), "{web}");
    let cfg = &files["clusters/a/cfg.yaml"];
    assert!(
        cfg.contains("kind: OCIRepository")
            && cfg.contains("tag: \"3.0\"")
            && cfg.contains("timeout: 2m"),
        "{cfg}"
    );
    let db = &files["clusters/a/db.yaml"];
    assert!(
        db.contains("name: fleeet\n") && db.contains("path: ./clusters/a/db"),
        "{db}"
    );
    assert_eq!(db.matches("kind: Kustomization").count(), 1, "{db}");
    let release = &files["clusters/a/db/release.yaml"];
    assert!(
        release.contains("type: oci") && release.contains("version: \"15.1.0\""),
        "{release}"
    );
    assert!(
        release.contains("primary:\n      replicas: 2\n"),
        "a single expression keeps its type: {release}"
    );
    assert_eq!(
        files["clusters/a/kustomization.yaml"],
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cfg.yaml\n- db.yaml\n- web.yaml\n"
    );
}

#[test]
fn bootstrap_modules_come_first_and_dependencies_cross_kinds() {
    let fleet = Fleet::new()
        .cluster("a", "{}")
        .file(
            "modules/base.yaml",
            "apiVersion: fleeet.dev/v1alpha1\nkind: BootstrapModule\nmetadata:\n  name: base\nspec:\n  version: \"1\"\n  source: {oci: {url: \"oci://r/base\"}}\n  selector: {}\n",
        )
        .module("chart", "  version: \"2\"\n  source: {helm: {repository: \"https://charts.example\", chart: c}}\n  selector: {}\n")
        .module("app", "  version: \"3\"\n  source: {git: {url: \"https://git.example/app\"}}\n  selector: {}\n  dependsOn: [chart]\n");
    let files = render(&fleet);
    assert!(
        !files["clusters/a/base.yaml"].contains("dependsOn"),
        "a bootstrap module waits for nothing"
    );
    assert!(files["clusters/a/chart.yaml"].contains("dependsOn:\n  - name: base\n"));
    assert!(
        files["clusters/a/app.yaml"].contains("dependsOn:\n  - name: base\n  - name: chart\n"),
        "a git module waits for a helm module's Kustomization: {}",
        files["clusters/a/app.yaml"]
    );
}

#[test]
fn hand_written_clusters_overlay_inventory_clusters() {
    let fleet = Fleet::new()
        .file(
            "inventory/mgmt-ns/a.yaml",
            "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: a\n  labels: {env: prod, tier: web}\nspec:\n  values: {size: small, dns: {zone: inv}}\n  facts: {kubernetesVersion: v1.33.1}\n",
        )
        .file(
            "clusters/a.yaml",
            "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: a\n  labels: {tier: api}\nspec:\n  values: {dns: {ttl: 60}}\n",
        )
        .module(
            "app",
            "  version: \"1\"\n  source: {oci: {url: \"oci://r/app\"}}\n  selector: {matchLabels: {tier: api}}\n  values:\n    summary: \"{{ cluster.labels.env }}/{{ cluster.values.size }}/{{ cluster.values.dns.zone }}/{{ cluster.values.dns.ttl }}/{{ cluster.facts.kubernetesVersion }}\"\n",
        );
    let files = render(&fleet);
    assert!(
        files["clusters/a/app.yaml"].contains("summary: prod/small/inv/60/v1.33.1"),
        "{}",
        files["clusters/a/app.yaml"]
    );
}

#[test]
fn values_from_files_merge_under_module_values() {
    let fleet = Fleet::new()
        .cluster("a", "{}")
        .file("values/base.yaml", "image: {registry: base.example, tag: \"1\"}\nreplicas: 1\n")
        .file("values/prod.yaml", "image: {registry: prod.example}\n")
        .module(
            "chart",
            "  version: \"2\"\n  source: {helm: {repository: \"https://charts.example\", chart: c}}\n  selector: {}\n  valuesFrom: [values/base.yaml, values/prod.yaml]\n  values: {replicas: 3}\n",
        );
    let release = &render(&fleet)["clusters/a/chart/release.yaml"];
    assert!(
        release.contains(
            "values:\n    image:\n      registry: prod.example\n      tag: \"1\"\n    replicas: 3\n"
        ),
        "{release}"
    );
}

#[test]
fn a_single_cluster_can_be_rendered() {
    let fleet = Fleet::example();
    let out = fleet.path().join("one");
    fleet
        .run(&[
            "render",
            "--out",
            out.to_str().unwrap(),
            "--cluster",
            "mgmt",
        ])
        .success();
    let files = read_tree(&out);
    assert!(
        files.keys().all(|p| p.starts_with("clusters/mgmt/")),
        "{:?}",
        files.keys()
    );
    let err = fleet
        .run(&[
            "render",
            "--out",
            out.to_str().unwrap(),
            "--cluster",
            "mgnt",
        ])
        .failure(2);
    assert!(
        err.contains("the fleet has no cluster \"mgnt\"\n  hint: did you mean \"mgmt\"?"),
        "{err}"
    );
}

#[test]
fn render_refuses_to_replace_a_directory_it_did_not_write() {
    let fleet = Fleet::example();
    let out = fleet.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("precious.txt"), "keep me").unwrap();
    let err = fleet
        .run(&["render", "--out", out.to_str().unwrap()])
        .failure(2);
    assert!(
        err.contains("refusing to replace") && err.contains("precious.txt"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("precious.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn the_example_fleet_validates_from_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &[
            "validate",
            "--fleet",
            example_fleet().to_str().unwrap(),
            "--format",
            "json",
        ],
    )
    .success();
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["clusters"], 11);
    assert_eq!(summary["modules"], 8);
}
