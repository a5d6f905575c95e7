//! Health collection from simulated workload clusters: the whole fleet in one process, then
//! each shard of a matrix of 8 (`fleeet status --shard K/8`), one after the other.
//!
//! Every cluster has its own kubeconfig Secret in a fake management cluster and its own
//! client; the workload clusters are in-process Kubernetes API servers (the integration tests'
//! fake, `tests/integration/support/kube.rs`) each holding 12 Flux Kustomizations, so the servers
//! share the CPUs with fleeet. The fleet's `spec.health` is the default (32 clusters at once).
//!
//! `cargo bench --bench health` (`FLEEET_BENCH_HEALTH_CLUSTERS`, default 10000;
//! `FLEEET_BENCH_HEALTH_SHARDS`, default 8)

#[path = "../tests/integration/support/kube.rs"]
#[allow(dead_code)]
mod kube;
#[path = "../tests/integration/support/objects.rs"]
#[allow(dead_code)]
mod objects;

use std::time::{Duration, Instant};

use fleeet::health::collect::collect_blocking;
use fleeet::health::{HealthSnapshot, Shard};
use fleeet::kubernetes::Target;
use fleeet::load::FleetFiles;
use fleeet::model::Fleet;

use kube::{FakeCluster, GIT_REPOSITORIES, KUSTOMIZATIONS, Server};
use objects::{Flux, kubeconfig, kubeconfig_secret, kustomization};

const MODULES: usize = 12;
const NS: &str = "flux-system";
const MANAGEMENT_TOKEN: &str = "mgmt-token";
const WORKLOAD_TOKEN: &str = "workload-token";
/// Workload clusters are spread over this many server ports.
const SERVERS: usize = 4;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let clusters = env("FLEEET_BENCH_HEALTH_CLUSTERS", 10_000);
    let shards = env("FLEEET_BENCH_HEALTH_SHARDS", 8) as u32;
    let names: Vec<String> = (0..clusters).map(|i| format!("cluster-{i:06}")).collect();

    let workload = FakeCluster::new();
    workload
        .serve(KUSTOMIZATIONS, true)
        .serve(GIT_REPOSITORIES, true)
        .require_token(WORKLOAD_TOKEN);
    for m in 0..MODULES {
        workload.put(kustomization(
            NS,
            &format!("module-{m:02}"),
            "v1.4.2@sha1:0a1b2c3d",
            Flux::Healthy,
        ));
    }
    let servers: Vec<Server> = (0..SERVERS).map(|_| Server::start(&workload)).collect();
    let management = FakeCluster::new();
    management.require_token(MANAGEMENT_TOKEN);
    for (i, name) in names.iter().enumerate() {
        let server = servers[i % SERVERS].url();
        management.put(kubeconfig_secret(
            "fleet",
            &format!("{name}-kubeconfig"),
            &server,
            WORKLOAD_TOKEN,
        ));
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig_path = dir.path().join("management.kubeconfig");
    let server = Server::start(&management);
    std::fs::write(
        &kubeconfig_path,
        kubeconfig(&server.url(), MANAGEMENT_TOKEN),
    )
    .expect("written");
    let target = Target {
        kubeconfig: Some(kubeconfig_path),
        context: None,
    };
    let fleet = fleet(&names);

    println!(
        "health collection: {clusters} clusters x {MODULES} Kustomizations, 2 CPUs shared with the fake servers"
    );
    let (whole, took) = timed(&fleet, &target, Shard::WHOLE);
    check(&whole, clusters);
    println!(
        "  one process:        {:>6.2} s  ({:.0} clusters/s)",
        took.as_secs_f64(),
        clusters as f64 / took.as_secs_f64()
    );
    let mut total = Duration::ZERO;
    let mut slowest = Duration::ZERO;
    let mut seen = 0;
    for index in 1..=shards {
        let shard = Shard {
            index,
            count: shards,
        };
        let (part, took) = timed(&fleet, &target, shard);
        let n = part.clusters.len();
        check(&part, n);
        seen += n;
        total += took;
        slowest = slowest.max(took);
        println!(
            "  shard {shard}:          {:>6.2} s  ({n} clusters)",
            took.as_secs_f64()
        );
    }
    assert_eq!(seen, clusters, "every cluster is in exactly one shard");
    println!(
        "  {shards} shards: slowest {:.2} s (the matrix's wall time with one runner each), sum {:.2} s",
        slowest.as_secs_f64(),
        total.as_secs_f64()
    );
}

/// A fleet of Cluster API clusters `names`, with no modules (health is read whatever the
/// fleet's modules are).
fn fleet(names: &[String]) -> Fleet {
    let mut files = FleetFiles::new("");
    files.insert(
        "fleet.yaml",
        "apiVersion: fleeet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: bench\n",
    );
    let docs: Vec<String> = names
        .iter()
        .map(|name| format!("apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: {name}\nspec:\n  facts:\n    clusterAPI: {{namespace: fleet, name: {name}}}\n"))
        .collect();
    for (i, chunk) in docs.chunks(5_000).enumerate() {
        files.insert(format!("inventory/part-{i}.yaml"), chunk.join("---\n"));
    }
    fleeet::load::load(&files).unwrap_or_else(|e| panic!("{e}"))
}

fn timed(fleet: &Fleet, target: &Target, shard: Shard) -> (HealthSnapshot, Duration) {
    let started = Instant::now();
    let snapshot = collect_blocking(fleet, target, shard, &mut |_| {}).expect("collected");
    (snapshot, started.elapsed())
}

/// Every cluster of `snapshot` was read, with every module ready.
fn check(snapshot: &HealthSnapshot, clusters: usize) {
    assert_eq!(snapshot.clusters.len(), clusters);
    if let Some((name, bad)) = snapshot
        .clusters
        .iter()
        .find(|(_, c)| !c.reachable || c.modules.len() != MODULES)
    {
        panic!("{name} was not read whole: {bad:?}");
    }
}
