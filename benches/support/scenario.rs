//! Benchmark scenarios on a synthetic fleet: the fleet in memory, and a rollout in progress
//! (a version bump of several modules, its first wave applied, every pair healthy).

use jiff::{SignedDuration, Timestamp};

use fleeet::health::{ClusterHealth, HealthSnapshot, ModuleHealth};
use fleeet::layout::{self, Branch};
use fleeet::load::FleetFiles;
use fleeet::model::Fleet;
use fleeet::render::{Rendered, Renderer};
use fleeet::rollout::{self, CurrentState, Inputs};

use super::fleet::{Shape, generate};

/// When the health snapshots are taken.
pub const OBSERVED_AT: &str = "2026-06-01T12:00:00Z";

/// Budgets and a maintenance window (open all day, in a zone templated per cluster) for the
/// fleet's rollout policy: what a fleet with offline sites runs with.
pub const BUDGETS_AND_WINDOWS: &str = "    maxUnavailable: \"5%\"\n    maxFailures: 1\n    windows:\n      - start: \"00:00\"\n        end: \"00:00\"\n        timeZone: \"{{ 'UTC' if cluster.annotations['cluster.x-k8s.io/managed-by'] == 'capi' else 'Europe/Berlin' }}\"\n";

/// The synthetic fleet's files, in memory.
pub fn fleet_files(shape: &Shape) -> FleetFiles {
    fleet_files_with(shape, "")
}

/// The synthetic fleet's files with `policy` (indented YAML lines) added to the fleet's
/// rollout policy.
pub fn fleet_files_with(shape: &Shape, policy: &str) -> FleetFiles {
    let mut files = FleetFiles::new("");
    for (path, mut text) in generate(shape) {
        if path == "fleet.yaml" {
            text = text.replace("  rollout:\n", &format!("  rollout:\n{policy}"));
        }
        files.insert(path, text);
    }
    files
}

/// The synthetic fleet, loaded.
pub fn load(shape: &Shape) -> Fleet {
    load_with(shape, "")
}

/// The synthetic fleet with `policy` added to its rollout policy, loaded.
pub fn load_with(shape: &Shape, policy: &str) -> Fleet {
    fleeet::load::load(&fleet_files_with(shape, policy)).unwrap_or_else(|e| panic!("{e}"))
}

/// Every pointer of `branch` ready at the revision it pins since two hours before
/// [`OBSERVED_AT`]: long past any bake time.
pub fn healthy(renderer: &Renderer<'_>, branch: &Branch) -> HealthSnapshot {
    let observed_at: Timestamp = OBSERVED_AT.parse().expect("a timestamp");
    let since = observed_at - SignedDuration::from_hours(2);
    let fleet = renderer.fleet;
    let mut snapshot = HealthSnapshot::new(observed_at);
    for (cluster, pointers) in &branch.pointers.clusters {
        let Ok(c) = fleet
            .clusters
            .binary_search_by(|x| x.name.as_str().cmp(cluster))
        else {
            continue;
        };
        let modules = pointers
            .iter()
            .filter_map(|(module, pointer)| {
                let m = fleet.module_index(module)?;
                let revision = renderer.render_pair(c, m, &pointer.version).ok()?.revision;
                Some((
                    module.as_str().into(),
                    ModuleHealth {
                        ready: true,
                        revision: Some(format!("{revision}@sha256:5f2c0e").into()),
                        since: Some(since),
                        reason: Some("ReconciliationSucceeded".into()),
                        generation: Some(2),
                        observed_generation: Some(2),
                        ..ModuleHealth::default()
                    },
                ))
            })
            .collect();
        snapshot.clusters.insert(
            cluster.clone(),
            ClusterHealth {
                reachable: true,
                error: None,
                modules,
            },
        );
    }
    snapshot
}

/// A rollout in progress: `shape.bump` modules of `shape` were bumped after the rest of the
/// fleet was rendered; their first wave is applied and healthy.
pub struct RolloutInProgress {
    /// The fleet after the bump.
    pub fleet: Fleet,
    /// The rendered branch with the first wave applied and rollout records.
    pub current: CurrentState,
    pub health: HealthSnapshot,
    pub now: Timestamp,
}

impl RolloutInProgress {
    pub fn new(shape: &Shape) -> Self {
        Self::with_policy(shape, "")
    }

    /// The rollout in progress with `policy` added to the fleet's rollout policy.
    pub fn with_policy(shape: &Shape, policy: &str) -> Self {
        let env = fleeet::template::sandbox();
        let before = load_with(&Shape { bump: 0, ..*shape }, policy);
        let path = before.spec.output.path.value.clone();
        let rendered = Renderer::new(&before, &env)
            .and_then(|r| r.render_all())
            .unwrap_or_else(|e| panic!("{e}"));
        let previous =
            CurrentState::from_files(layout::files(&rendered, &path), &path, &Rendered::default());

        let fleet = load_with(shape, policy);
        let renderer = Renderer::new(&fleet, &env).unwrap_or_else(|e| panic!("{e}"));
        let desired = renderer.render_all().unwrap_or_else(|e| panic!("{e}"));
        let now: Timestamp = OBSERVED_AT.parse().expect("a timestamp");
        let first = rollout::plan(&Inputs {
            renderer: &renderer,
            desired: &desired,
            current: &previous,
            health: None,
            now,
        });
        let current = CurrentState::from_files(
            layout::branch_files(&first.next, &path),
            &path,
            &Rendered::default(),
        );
        let health = healthy(&renderer, &current.branch);
        drop(renderer);
        RolloutInProgress {
            fleet,
            current,
            health,
            now,
        }
    }
}
