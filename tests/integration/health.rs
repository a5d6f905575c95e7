//! Health collection (`fleeet status` and the library's `collect_blocking`) against a fake
//! management cluster holding kubeconfig Secrets that point at fake workload clusters.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fleeet::health::collect::collect_blocking;
use fleeet::health::{ClusterHealth, HealthSnapshot, Shard};
use fleeet::kubernetes::Target;
use fleeet::load::FleetFiles;

use crate::support::kube::{
    FakeCluster, Fault, GIT_REPOSITORIES, HELM_RELEASES, KUSTOMIZATIONS, Server, closed_port,
};
use crate::support::objects::{Flux, helm_release, helm_wrapper, kubeconfig_secret, kustomization};
use crate::support::{fleeet, fleet, kubeconfig_file};

const NS: &str = "flux-system";
const REVISION: &str = "v1.4.2@sha1:0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";

const MODULES: [(&str, &str); 2] = [
    (
        "modules/ingress.yaml",
        "apiVersion: fleeet.dev/v1alpha1
kind: Module
metadata:
  name: ingress
spec:
  version: 1.4.2
  source:
    git:
      url: https://github.com/acme/ingress
      tag: v{{ version }}
  selector: {}
",
    ),
    (
        "modules/monitoring.yaml",
        "apiVersion: fleeet.dev/v1alpha1
kind: Module
metadata:
  name: monitoring
spec:
  version: 61.3.0
  source:
    helm:
      repository: https://prometheus-community.github.io/helm-charts
      chart: kube-prometheus-stack
  selector: {}
",
    ),
];

/// An inventory file for a Cluster API cluster in namespace `fleet`.
fn inventory_file(name: &str) -> (String, String) {
    (
        format!("inventory/{name}.yaml"),
        format!(
            "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: {name}\nspec:\n  facts:\n    clusterAPI: {{namespace: fleet, name: {name}, uid: u-{name}}}\n"
        ),
    )
}

/// A workload cluster with Flux installed, requiring its own token.
fn workload(name: &str) -> FakeCluster {
    let cluster = FakeCluster::new();
    cluster
        .serve(KUSTOMIZATIONS, true)
        .serve(HELM_RELEASES, true)
        .serve(GIT_REPOSITORIES, true)
        .require_token(&format!("token-{name}"));
    cluster
}

/// A workload cluster whose `ingress` is in `state` at `revision` and whose `monitoring`
/// HelmRelease runs `chart` in `helm`.
fn flux_cluster(name: &str, state: Flux, revision: &str, chart: &str, helm: Flux) -> FakeCluster {
    let cluster = workload(name);
    cluster
        .put(kustomization(NS, "ingress", revision, state))
        .put(helm_wrapper(NS, "monitoring", name))
        .put(helm_release(NS, "monitoring", chart, helm));
    cluster
}

/// The management cluster, with each cluster's kubeconfig Secret pointing at its server.
fn management_with(secrets: &[(&str, String)]) -> FakeCluster {
    let mgmt = FakeCluster::new();
    mgmt.require_token(crate::support::MANAGEMENT_TOKEN);
    for (name, server) in secrets {
        mgmt.put(kubeconfig_secret(
            "fleet",
            &format!("{name}-kubeconfig"),
            server,
            &format!("token-{name}"),
        ));
    }
    mgmt
}

struct Setup {
    fleet: tempfile::TempDir,
    kubeconfig: PathBuf,
}

/// Every case of the issue, in one fleet: each cluster shows one way health can be.
fn setup() -> Setup {
    let mut secrets: Vec<(&str, String)> = Vec::new();
    let mut start = |name: &'static str, cluster: FakeCluster| {
        secrets.push((name, Server::start(&cluster).url()));
    };
    start(
        "healthy",
        flux_cluster("healthy", Flux::Healthy, REVISION, "61.3.0", Flux::Healthy),
    );
    start(
        "progressing",
        flux_cluster(
            "progressing",
            Flux::Progressing,
            REVISION,
            "61.3.0",
            Flux::Progressing,
        ),
    );
    start(
        "failed",
        flux_cluster("failed", Flux::Failed, REVISION, "61.2.0", Flux::Failed),
    );
    start(
        "stalled",
        flux_cluster("stalled", Flux::Stalled, REVISION, "61.3.0", Flux::Stalled),
    );
    start(
        "stale",
        flux_cluster(
            "stale",
            Flux::StaleGeneration,
            REVISION,
            "61.3.0",
            Flux::StaleGeneration,
        ),
    );
    start(
        "old-revision",
        flux_cluster(
            "old-revision",
            Flux::Healthy,
            "v1.4.1@sha1:77aa",
            "61.2.0",
            Flux::Healthy,
        ),
    );
    let forbidden = flux_cluster(
        "forbidden",
        Flux::Healthy,
        REVISION,
        "61.3.0",
        Flux::Healthy,
    );
    forbidden.fault(
        "/kustomizations",
        Fault::Status(403, "Forbidden", "kustomizations.kustomize.toolkit.fluxcd.io is forbidden: User \"fleeet\" cannot list resource \"kustomizations\" in API group \"kustomize.toolkit.fluxcd.io\" in the namespace \"flux-system\"".into()),
    );
    start("forbidden", forbidden);
    start(
        "no-flux",
        FakeCluster::new().require_token("token-no-flux").clone(),
    );
    let slow = flux_cluster("slow", Flux::Healthy, REVISION, "61.3.0", Flux::Healthy);
    slow.fault("/kustomizations", Fault::Delay(Duration::from_secs(4)));
    start("slow", slow);
    start(
        "edge-1",
        flux_cluster("edge-1", Flux::Healthy, REVISION, "61.3.0", Flux::Healthy),
    );
    secrets.push(("unreachable", format!("http://127.0.0.1:{}", closed_port())));

    let mgmt = management_with(&secrets);
    // edge-1 is hand-written: its Secret has its own name, in its own namespace.
    mgmt.delete("Secret", "fleet", "edge-1-kubeconfig");
    let edge = secrets.iter().find(|(n, _)| *n == "edge-1").unwrap();
    mgmt.put(kubeconfig_secret(
        "edge",
        "edge-1-access",
        &edge.1,
        "token-edge-1",
    ));

    let mut files: Vec<(String, String)> = [
        "healthy",
        "progressing",
        "failed",
        "stalled",
        "stale",
        "old-revision",
        "forbidden",
        "no-flux",
        "slow",
        "unreachable",
        "no-secret",
    ]
    .into_iter()
    .map(inventory_file)
    .collect();
    files.push((
        "clusters/edge-1.yaml".into(),
        "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: edge-1\nspec:\n  kubeconfigSecret: {name: edge-1-access, namespace: edge}\n".into(),
    ));
    files.push((
        "clusters/lab.yaml".into(),
        "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\n".into(),
    ));
    files.extend(MODULES.iter().map(|(p, t)| (p.to_string(), t.to_string())));
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let fleet = fleet("  health:\n    timeout: 1s\n    concurrency: 4\n", &files);
    let kubeconfig = kubeconfig_file(fleet.path(), &mgmt, "default");
    Setup { fleet, kubeconfig }
}

fn collect(fleet: &Path, kubeconfig: &Path) -> HealthSnapshot {
    let files = FleetFiles::read_dir(fleet).unwrap();
    let fleet = fleeet::load::load(&files).unwrap();
    let target = Target {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
    };
    let mut seen = Vec::new();
    let snapshot = collect_blocking(&fleet, &target, Shard::WHOLE, &mut |c| {
        seen.push(c.to_string())
    })
    .unwrap();
    assert_eq!(
        seen.len(),
        fleet.clusters.len(),
        "progress is told of every cluster"
    );
    snapshot
}

fn error(cluster: &ClusterHealth) -> &str {
    assert!(!cluster.reachable, "{cluster:?}");
    cluster.error.as_deref().unwrap()
}

#[test]
fn reads_every_kind_of_health_and_one_bad_cluster_spoils_nothing() {
    let setup = setup();
    let started = Instant::now();
    let snapshot = collect(setup.fleet.path(), &setup.kubeconfig);
    let took = started.elapsed();
    let c = &snapshot.clusters;
    assert_eq!(c.len(), 13);

    let healthy = &c["healthy"];
    assert!(healthy.reachable && healthy.error.is_none(), "{healthy:?}");
    let ingress = &healthy.modules.get("ingress").unwrap();
    assert!(ingress.ready && !ingress.stalled);
    assert_eq!(ingress.revision.as_deref(), Some(REVISION));
    assert_eq!(ingress.reason.as_deref(), Some("ReconciliationSucceeded"));
    assert_eq!(&*ingress.message, format!("Applied revision: {REVISION}"));
    assert_eq!(ingress.since.unwrap().to_string(), "2026-11-21T09:40:00Z");
    assert_eq!(
        (ingress.generation, ingress.observed_generation),
        (Some(3), Some(3))
    );
    let monitoring = &healthy.modules.get("monitoring").unwrap();
    assert!(monitoring.ready);
    assert_eq!(
        monitoring.revision.as_deref(),
        Some("61.3.0"),
        "the chart version the HelmRelease runs"
    );
    assert_eq!(monitoring.reason.as_deref(), Some("UpgradeSucceeded"));
    assert_eq!(
        c["edge-1"].modules.get("ingress").unwrap(),
        *ingress,
        "hand-written clusters name their Secret"
    );

    let progressing = &c["progressing"].modules.get("ingress").unwrap();
    assert!(!progressing.ready && !progressing.stalled);
    assert_eq!(progressing.reason.as_deref(), Some("Progressing"));

    let failed = &c["failed"].modules;
    assert!(!failed.get("ingress").unwrap().ready);
    assert_eq!(
        failed.get("ingress").unwrap().reason.as_deref(),
        Some("HealthCheckFailed")
    );
    assert!(
        failed
            .get("ingress")
            .unwrap()
            .message
            .starts_with("timeout waiting for"),
        "{:?}",
        failed.get("ingress").unwrap()
    );
    assert_eq!(
        failed.get("monitoring").unwrap().reason.as_deref(),
        Some("UpgradeFailed")
    );
    assert_eq!(
        failed.get("monitoring").unwrap().revision.as_deref(),
        Some("61.2.0")
    );

    let stalled = &c["stalled"].modules.get("ingress").unwrap();
    assert!(stalled.stalled && !stalled.ready);
    assert_eq!(stalled.reason.as_deref(), Some("InvalidPath"));

    let stale = &c["stale"].modules.get("ingress").unwrap();
    assert!(
        !stale.ready,
        "Ready=True of an older generation is not ready"
    );
    assert_eq!(
        (stale.generation, stale.observed_generation),
        (Some(3), Some(2))
    );

    let old = &c["old-revision"].modules;
    assert!(old.get("ingress").unwrap().ready);
    assert_eq!(
        old.get("ingress").unwrap().revision.as_deref(),
        Some("v1.4.1@sha1:77aa")
    );
    assert_eq!(
        old.get("monitoring").unwrap().revision.as_deref(),
        Some("61.2.0")
    );

    assert!(
        error(&c["unreachable"]).contains("unreachable"),
        "{:?}",
        c["unreachable"]
    );
    assert!(
        error(&c["unreachable"]).contains("http://127.0.0.1:"),
        "{:?}",
        c["unreachable"]
    );
    assert!(
        error(&c["forbidden"])
            .contains("forbidden: kustomizations.kustomize.toolkit.fluxcd.io is forbidden"),
        "{:?}",
        c["forbidden"]
    );
    assert_eq!(
        error(&c["no-secret"]),
        "no kubeconfig secret: Secret fleet/no-secret-kubeconfig is not in the management cluster"
    );
    assert!(
        error(&c["no-flux"]).starts_with("Flux CRD missing:"),
        "{:?}",
        c["no-flux"]
    );
    assert!(
        error(&c["no-flux"]).contains("kustomize.toolkit.fluxcd.io/v1 Kustomization"),
        "{:?}",
        c["no-flux"]
    );
    assert!(error(&c["slow"]).contains("timed out"), "{:?}", c["slow"]);
    assert!(
        error(&c["lab"]).contains("does not come from Cluster API"),
        "{:?}",
        c["lab"]
    );
    assert!(
        took < Duration::from_secs(4),
        "the slow cluster is cut off at its timeout: {took:?}"
    );
}

#[test]
fn status_prints_a_table_or_json_and_saves_the_snapshot() {
    let setup = setup();
    let saved = setup.fleet.path().join("health.yaml");
    let out = fleeet()
        .args(["status", "--format", "json", "--fleet"])
        .arg(setup.fleet.path())
        .arg("--kubeconfig")
        .arg(&setup.kubeconfig)
        .arg("--save")
        .arg(&saved)
        .assert()
        .success();
    let printed: HealthSnapshot = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let file =
        HealthSnapshot::parse("health.yaml", &std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(printed, file);
    assert!(
        printed.clusters["healthy"]
            .modules
            .get("ingress")
            .unwrap()
            .ready
    );

    let out = fleeet()
        .args(["status", "--fleet"])
        .arg(setup.fleet.path())
        .arg("--kubeconfig")
        .arg(&setup.kubeconfig)
        .assert()
        .success();
    let table = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["CLUSTER", "ingress", "monitoring"]
    );
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("healthy"),
        ["healthy", "ready", "v1.4.2", "ready", "61.3.0"]
    );
    assert_eq!(
        row("failed"),
        ["failed", "failed", "v1.4.2", "failed", "61.2.0"]
    );
    assert_eq!(row("slow"), ["slow", "unknown", "unknown"]);
    assert!(
        table.ends_with("13 clusters (7 reachable, 6 unreachable); 14 modules: 6 ready, 4 progressing, 2 failed, 2 stalled\n"),
        "{table}"
    );
}

/// SECURITY.md: kubeconfigs and tokens read from the management cluster stay in memory.
#[test]
fn status_never_writes_or_prints_a_kubeconfig_or_a_token() {
    let setup = setup();
    let home = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let before = crate::support::read_tree(setup.fleet.path());
    let saved = setup.fleet.path().join("health.yaml");
    let out = fleeet()
        .args(["status", "--format", "json", "--fleet"])
        .arg(setup.fleet.path())
        .arg("--kubeconfig")
        .arg(&setup.kubeconfig)
        .arg("--save")
        .arg(&saved)
        .env("HOME", home.path())
        .env("TMPDIR", temp.path())
        .assert()
        .success();
    let output = out.get_output();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!printed.contains("token-"), "{printed}");
    let after = crate::support::read_tree(setup.fleet.path());
    let written: Vec<&String> = after
        .keys()
        .filter(|path| before.get(*path) != after.get(*path))
        .collect();
    assert_eq!(written, ["health.yaml"]);
    let snapshot = &after["health.yaml"];
    for secret in [
        "token-",
        "certificate-authority",
        "client-key",
        "server: http",
    ] {
        assert!(!snapshot.contains(secret), "{secret} in\n{snapshot}");
    }
    for dir in [home.path(), temp.path()] {
        assert!(crate::support::read_tree(dir).is_empty(), "{dir:?}");
    }
}

/// `status --shard K/N --save health-K.json` for every K: JSON files that together hold every
/// cluster once, read back by `--health` as a folder; a shard missing is a warning, a cluster
/// in two files an error.
#[test]
fn sharded_status_saves_json_that_merges_back_into_the_whole_fleet() {
    let setup = setup();
    let shards = setup.fleet.path().join("health");
    std::fs::create_dir(&shards).unwrap();
    let status = |args: &[&str]| {
        fleeet()
            .args(["status", "--fleet"])
            .arg(setup.fleet.path())
            .arg("--kubeconfig")
            .arg(&setup.kubeconfig)
            .args(args)
            .assert()
            .success()
    };
    let mut seen: Vec<String> = Vec::new();
    for k in 1..=3 {
        let file = shards.join(format!("health-{k}.json"));
        status(&[
            "--shard",
            &format!("{k}/3"),
            "--save",
            file.to_str().unwrap(),
        ]);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with('{'), "JSON: {text}");
        let part: HealthSnapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(part.shard.map(|s| s.to_string()), Some(format!("{k}/3")));
        let shard: Shard = format!("{k}/3").parse().unwrap();
        assert!(part.clusters.keys().all(|name| shard.contains(name)));
        seen.extend(part.clusters.into_keys());
    }
    seen.sort();
    let whole = collect(setup.fleet.path(), &setup.kubeconfig);
    assert_eq!(seen, whole.clusters.keys().cloned().collect::<Vec<_>>());

    let plan = |health: &[&std::path::Path]| {
        let mut command = fleeet();
        command
            .args([
                "plan",
                "--format",
                "json",
                "--current-dir",
                "none",
                "--fleet",
            ])
            .arg(setup.fleet.path());
        for path in health {
            command.arg("--health").arg(path);
        }
        command.assert()
    };
    let out = plan(&[&shards]).success();
    assert!(out.get_output().stderr.is_empty(), "{:?}", out.get_output());

    let first = shards.join("health-1.json");
    let out = plan(&[&first]).success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains(
            "warning: health of shard 2/3, 3/3 is missing: its clusters are unknown, never healthy"
        ),
        "{stderr}"
    );

    let out = plan(&[&shards, &first]).code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("health-1.json: cluster"), "{stderr}");
    assert!(stderr.contains("is also in"), "{stderr}");
}

/// With `spec.management`, the bootstrap modules of a cluster are read from the management
/// cluster's remote Kustomizations, even when the cluster itself has no Flux yet.
#[test]
fn bootstrap_modules_are_read_from_the_management_cluster() {
    let w1 = FakeCluster::new().require_token("token-w1").clone();
    let mgmt = management_with(&[("w1", Server::start(&w1).url())]);
    mgmt.serve(KUSTOMIZATIONS, true);
    let mut remote = kustomization("fleet", "flux", "v2.7.0@sha1:0a1b", Flux::Healthy);
    remote["metadata"]["name"] = "w1.flux".into();
    remote["metadata"]["labels"]["fleeet.dev/cluster"] = "w1".into();
    mgmt.put(remote);
    // The management cluster's own modules are no cluster's bootstrap.
    mgmt.put(kustomization(
        "fleet",
        "flux",
        "v2.6.0@sha1:0a1b",
        Flux::Healthy,
    ));
    let flux = "apiVersion: fleeet.dev/v1alpha1\nkind: BootstrapModule\nmetadata:\n  name: flux\nspec:\n  version: v2.7.0\n  source: {oci: {url: \"oci://ghcr.io/fluxcd/flux-manifests\"}}\n  selector: {}\n";
    let (path, text) = inventory_file("w1");
    let files = [
        (path.as_str(), text.as_str()),
        ("modules/flux.yaml", flux),
        (
            "clusters/mgmt.yaml",
            "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: mgmt\n",
        ),
    ];
    let fleet = fleet(
        "  health:\n    timeout: 2s\n  management:\n    cluster: mgmt\n    url: https://git.example/fleet\n",
        &files,
    );
    let kubeconfig = kubeconfig_file(fleet.path(), &mgmt, "default");
    let snapshot = collect(fleet.path(), &kubeconfig);
    assert!(!snapshot.clusters["w1"].reachable, "{snapshot:?}");
    let view = &snapshot.bootstrap["w1"];
    assert!(view.reachable, "{view:?}");
    assert_eq!(view.modules.len(), 1, "{view:?}");
    let flux = &view.modules.get("flux").unwrap();
    assert!(flux.ready);
    assert_eq!(flux.revision.as_deref(), Some("v2.7.0@sha1:0a1b"));
    assert!(
        !snapshot.bootstrap.contains_key("mgmt"),
        "the management cluster bootstraps itself by hand"
    );
}
