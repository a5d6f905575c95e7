//! The stages of a whole-fleet render and plan, and the git tree write of their output, on
//! synthetic fleets of 1,000 and 10,000 clusters × 20 modules (`FLEEET_BENCH_CLUSTERS=1000,10000`
//! to choose). The whole process,
//! up to 100,000 clusters, is measured by `bench/run`.
//!
//! `cargo bench --bench fleet [-- FILTER]`

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

use fleeet::git::Repo;
use fleeet::health::HealthSnapshot;
use fleeet::layout::Files;
use fleeet::render::Renderer;
use fleeet::rollout::{self, Inputs};
use fleeet::{layout, select, template};
use support::fleet::Shape;
use support::scenario::{self, RolloutInProgress};

const MODULES: usize = 20;
/// Modules bumped in the rollout-in-progress scenario.
const BUMPED: usize = 5;

fn sizes() -> Vec<usize> {
    std::env::var("FLEEET_BENCH_CLUSTERS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000])
}

fn shape(clusters: usize) -> Shape {
    Shape {
        clusters,
        modules: MODULES,
        seed: 1,
        bump: 0,
    }
}

fn stages(c: &mut Criterion) {
    for clusters in sizes() {
        let id = BenchmarkId::from_parameter(clusters);
        // Throughput in (cluster, module) pairs: the modules each cluster's labels select.
        let assigned = select::assign(&scenario::load(&shape(clusters)))
            .clusters_of_module
            .iter()
            .map(Vec::len)
            .sum::<usize>();
        let pairs = |g: &mut criterion::BenchmarkGroup<_>| {
            g.throughput(Throughput::Elements(assigned as u64))
                .sample_size(10)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(5));
        };

        let files = scenario::fleet_files(&shape(clusters));
        let mut group = c.benchmark_group("load");
        pairs(&mut group);
        group.bench_function(id.clone(), |b| {
            b.iter_with_large_drop(|| fleeet::load::load(black_box(&files)).expect("valid"))
        });
        group.finish();
        drop(files);

        let fleet = scenario::load(&shape(clusters));
        let mut group = c.benchmark_group("select");
        pairs(&mut group);
        group.bench_function(id.clone(), |b| {
            b.iter_with_large_drop(|| select::assign(black_box(&fleet)))
        });
        group.finish();

        let env = template::sandbox();
        let mut group = c.benchmark_group("template+render");
        pairs(&mut group);
        group.bench_function(id.clone(), |b| {
            b.iter_with_large_drop(|| {
                Renderer::new(black_box(&fleet), &env)
                    .and_then(|r| r.render_all())
                    .expect("renders")
            })
        });
        group.finish();

        let rendered = Renderer::new(&fleet, &env)
            .and_then(|r| r.render_all())
            .expect("renders");
        let mut group = c.benchmark_group("layout");
        pairs(&mut group);
        group.bench_function(id.clone(), |b| {
            b.iter_with_large_drop(|| layout::files(black_box(&rendered), "clusters"))
        });
        group.finish();
        drop((rendered, fleet));

        let scenario = RolloutInProgress::new(&Shape {
            bump: BUMPED,
            ..shape(clusters)
        });
        let renderer = Renderer::new(&scenario.fleet, &env).expect("compiles");
        let desired = renderer.render_all().expect("renders");
        let inputs = Inputs {
            renderer: &renderer,
            desired: &desired,
            current: &scenario.current,
            health: Some(&scenario.health),
            now: scenario.now,
        };
        let mut group = c.benchmark_group("plan");
        pairs(&mut group);
        group.bench_function(id.clone(), |b| {
            b.iter_with_large_drop(|| rollout::plan(black_box(&inputs)))
        });
        group.finish();

        {
            // The same rollout with budgets and a maintenance window whose zone is a template
            // rendered per cluster: every pair of the next wave goes through the window gate.
            let gated = RolloutInProgress::with_policy(
                &Shape {
                    bump: BUMPED,
                    ..shape(clusters)
                },
                scenario::BUDGETS_AND_WINDOWS,
            );
            let gated_renderer = Renderer::new(&gated.fleet, &env).expect("compiles");
            let gated_desired = gated_renderer.render_all().expect("renders");
            let gated_inputs = Inputs {
                renderer: &gated_renderer,
                desired: &gated_desired,
                current: &gated.current,
                health: Some(&gated.health),
                now: gated.now,
            };
            let step = rollout::plan(&gated_inputs);
            assert!(
                !step.changes.is_empty()
                    && step.modules.iter().all(|m| m.outside_window.is_empty()),
                "the next waves go, through the window gate"
            );
            drop(step);
            let mut group = c.benchmark_group("plan with budgets+windows");
            pairs(&mut group);
            group.bench_function(id.clone(), |b| {
                b.iter_with_large_drop(|| rollout::plan(black_box(&gated_inputs)))
            });
            group.finish();
        }
        // A full-fleet health snapshot, as `status --save` writes it: YAML, and JSON (read
        // with serde_json).
        let mut group = c.benchmark_group("health snapshot read");
        pairs(&mut group);
        for (format, file, text) in [
            ("yaml", "health.yaml", scenario.health.to_yaml()),
            ("json", "health.json", scenario.health.to_json()),
        ] {
            eprintln!(
                "health snapshot of {clusters} clusters as {format}: {} bytes",
                text.len()
            );
            group.bench_function(BenchmarkId::new(format, clusters), |b| {
                b.iter_with_large_drop(|| {
                    HealthSnapshot::parse(file, black_box(&text)).expect("valid")
                })
            });
        }
        group.finish();

        // The git tree write of the rendered branch: first whole, into an empty repository, then
        // the planned step on top of it. Each measured write gets a fresh repository, so every
        // object it needs is new, as in CI.
        let path = &scenario.fleet.spec.output.path.value;
        let before = layout::branch_files(&scenario.current.branch, path);
        let step = layout::branch_files(&rollout::plan(&inputs).next, path);
        let mut group = c.benchmark_group("git tree write");
        pairs(&mut group);
        group.sampling_mode(SamplingMode::Flat);
        group.bench_function(BenchmarkId::new("whole branch", clusters), |b| {
            b.iter_custom(|iters| time_tree_writes(iters, None, &before))
        });
        group.bench_function(BenchmarkId::new("one rollout step", clusters), |b| {
            b.iter_custom(|iters| time_tree_writes(iters, Some(&before), &step))
        });
        group.finish();
    }
}

/// The time of `iters` writes of `files` as a git tree, each into a fresh repository, holding
/// the tree of `base` when given (written first, not timed).
fn time_tree_writes(iters: u64, base: Option<&Files>, files: &Files) -> Duration {
    (0..iters)
        .map(|_| {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let repo = Repo::init_bare(dir.path()).expect("a repository");
            if let Some(base) = base {
                repo.write_tree(base).expect("written");
            }
            let start = Instant::now();
            black_box(repo.write_tree(files).expect("written"));
            start.elapsed()
        })
        .sum()
}

criterion_group!(benches, stages);
criterion_main!(benches);
