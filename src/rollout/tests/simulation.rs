//! A simulated fleet: a few hundred clusters rolled by repeated plans, one every 15 minutes,
//! each step committed on a real git rendered branch at the simulated time (so landing times
//! come from history, as in CI), with health from a simulated Flux on every cluster: some
//! clusters always offline, some dropping out now and then, and a version that fails minutes
//! after it is Ready.

use std::collections::{BTreeMap, BTreeSet};

use git2::Oid;

use super::*;
use crate::content::Content;
use crate::git::{Identity, Repo};
use crate::model::window::zone;

const CLUSTERS: usize = 300;
const ZONES: [&str; 3] = ["Europe/Berlin", "America/New_York", "Asia/Tokyo"];
/// How long Flux takes to apply a pointer once it lands.
const APPLY: SignedDuration = SignedDuration::from_mins(3);
/// How long after Ready the bad version fails.
const FAIL_AFTER: SignedDuration = SignedDuration::from_mins(10);
const RUN_EVERY: SignedDuration = SignedDuration::from_mins(15);
const WAVES: &str = "waves: [{name: canary, percent: 2, maxUnavailable: 1}, {name: ten, percent: 10}, {name: half, percent: 50}, {name: rest}]";

/// What Flux on one cluster runs.
#[derive(Clone, Debug, Default)]
struct Flux {
    /// The version the rendered branch pins, and when it landed.
    pinned: Option<(String, Timestamp)>,
    /// The version applied before the pinned one.
    previous: Option<String>,
}

struct Simulation {
    _dir: tempfile::TempDir,
    repo: Repo,
    tip: Option<Oid>,
    now: Timestamp,
    runs: usize,
    flux: BTreeMap<String, Flux>,
    offline: BTreeSet<String>,
    flapping: BTreeSet<String>,
    bad: Option<String>,
}

/// A fleet of [`CLUSTERS`] clusters in three zones (annotated), module `app` at `version`.
fn fleet(version: &str, policy: &str) -> Fleet {
    let mut fleet = TestFleet::new().rollout(policy);
    for i in 0..CLUSTERS {
        let name = format!("c{i:03}");
        fleet = fleet
            .cluster(&name, &[])
            .annotate(&name, "fleeet.dev/time-zone", ZONES[i % 3]);
    }
    fleet.module("app", version, "{}", "").load()
}

impl Simulation {
    /// Monday 2026-11-23, 00:00 UTC; 1% of the clusters always offline, 1% flapping.
    fn new() -> Simulation {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path()).unwrap();
        let names: Vec<String> = (0..CLUSTERS).map(|i| format!("c{i:03}")).collect();
        Simulation {
            _dir: dir,
            repo,
            tip: None,
            now: "2026-11-23T00:00:00Z".parse().unwrap(),
            runs: 0,
            flux: BTreeMap::new(),
            offline: names.iter().step_by(100).cloned().collect(),
            flapping: names.iter().skip(37).step_by(100).cloned().collect(),
            bad: None,
        }
    }

    /// A flapping cluster is unreachable one run in three.
    fn reachable(&self, cluster: &str) -> bool {
        let flapped =
            self.flapping.contains(cluster) && (self.runs + index(cluster)).is_multiple_of(3);
        !self.offline.contains(cluster) && !flapped
    }

    fn health(&self) -> HealthSnapshot {
        let mut snapshot = HealthSnapshot::new(self.now);
        for (cluster, flux) in &self.flux {
            let reachable = self.reachable(cluster);
            let mut modules = crate::health::ModulesHealth::new();
            if let (true, Some((version, landed))) = (reachable, &flux.pinned) {
                let applied = *landed + APPLY;
                let health = if self.now < applied {
                    ModuleHealth {
                        ready: true,
                        revision: flux.previous.as_deref().map(Into::into),
                        since: Some(*landed),
                        reason: Some("ReconciliationSucceeded".into()),
                        ..ModuleHealth::default()
                    }
                } else if self.bad.as_ref() == Some(version) && self.now >= applied + FAIL_AFTER {
                    ModuleHealth {
                        ready: false,
                        revision: Some(version.as_str().into()),
                        since: Some(applied + FAIL_AFTER),
                        reason: Some("HealthCheckFailed".into()),
                        message: "Deployment/app: 0/3 replicas available".into(),
                        ..ModuleHealth::default()
                    }
                } else {
                    ModuleHealth {
                        ready: true,
                        revision: Some(version.as_str().into()),
                        since: Some(applied),
                        reason: Some("ReconciliationSucceeded".into()),
                        ..ModuleHealth::default()
                    }
                };
                modules.insert("app".into(), health);
            }
            snapshot.clusters.insert(
                cluster.clone(),
                ClusterHealth {
                    reachable,
                    error: (!reachable).then(|| "connection refused".into()),
                    modules,
                },
            );
        }
        snapshot
    }

    /// One scheduled run: plan on the branch tip, commit the step (merged at once), let Flux
    /// see the new pointers; then the clock moves on.
    fn run(&mut self, fleet: &Fleet) -> Plan {
        let path = fleet.spec.output.path.value.clone();
        let env = crate::template::sandbox();
        let renderer = Renderer::new(fleet, &env).unwrap();
        // As reconcile does: pointers by their ids, texts rendered again for what is written.
        let desired = renderer.render_ids().unwrap();
        let current = self
            .repo
            .current_state(self.tip, renderer.layout(), |records, sampled| {
                expected_branch(&renderer, &desired, records, sampled)
            })
            .unwrap();
        // What is taken from the expected branch is what reading every file gives.
        let read = self
            .repo
            .current_state(self.tip, renderer.layout(), |_, _| Rendered::default())
            .unwrap();
        assert_same_state(&current, &read);
        let health = self.health();
        let mut plan = plan(&Inputs {
            renderer: &renderer,
            desired: &desired,
            current: &current,
            health: Some(&health),
            now: self.now,
        });
        if plan.changed {
            renderer.restore_texts(&mut plan.next.pointers, &current.branch.pointers);
            let files = layout::branch_files(&plan.next, &path);
            let tree = self.repo.write_tree(&files).unwrap();
            // Writing only the folders that change, as reconcile does, makes the same tree.
            if let Some(tip) = self.tip {
                let layout = renderer.layout();
                let changed = layout.changed_folders(&plan.next, &current.branch);
                let mut folders: Vec<String> =
                    changed.iter().map(|c| format!("{path}/{c}")).collect();
                folders.push(".fleeet".into());
                let step = layout.folder_files(&plan.next, &changed);
                let base = self.repo.tree_of(tip).unwrap();
                assert_eq!(
                    self.repo.write_folders(base, &folders, &step).unwrap(),
                    tree
                );
            }
            let identity = Identity {
                name: "fleeet".into(),
                email: "fleeet@example.com".into(),
                time: self.now,
            };
            let parents: Vec<Oid> = self.tip.into_iter().collect();
            self.tip = Some(self.repo.commit(&parents, tree, "step", &identity).unwrap());
        }
        for (cluster, modules) in &plan.next.pointers.clusters {
            let flux = self.flux.entry(cluster.clone()).or_default();
            let version = modules.get("app").map(|p| p.version.clone());
            if flux.pinned.as_ref().map(|p| &p.0) != version.as_ref() {
                flux.previous = flux.pinned.take().map(|p| p.0);
                flux.pinned = version.map(|v| (v, self.now));
            }
        }
        self.now += RUN_EVERY;
        self.runs += 1;
        plan
    }

    /// Runs until a plan finds the module complete (at most `max` runs); returns the plans.
    fn until_complete(&mut self, fleet: &Fleet, max: usize) -> Vec<Plan> {
        let mut plans = Vec::new();
        for _ in 0..max {
            let plan = self.run(fleet);
            let done = plan.modules[0].state == ModuleState::Complete;
            plans.push(plan);
            if done {
                return plans;
            }
        }
        panic!(
            "not complete after {max} runs: {}",
            plans.last().unwrap().modules[0].reason
        );
    }

    fn pinned(&self, cluster: &str) -> Option<&str> {
        self.flux[cluster].pinned.as_ref().map(|p| p.0.as_str())
    }

    fn every_cluster_pins(&self, version: &str) -> bool {
        self.flux.keys().all(|c| self.pinned(c) == Some(version))
    }
}

fn index(cluster: &str) -> usize {
    cluster[1..].parse().unwrap()
}

fn policy(extra: &str) -> String {
    format!("bakeTime: 30m\nprogressDeadline: 20m\nmaxUnavailable: \"3%\"\n{WAVES}\n{extra}")
}

/// The fleet on 1.0.0, everywhere.
fn converged() -> Simulation {
    let mut sim = Simulation::new();
    sim.until_complete(&fleet("1.0.0", &policy("")), 60);
    assert!(sim.every_cluster_pins("1.0.0"));
    sim
}

#[test]
fn a_good_version_completes_despite_offline_and_flapping_clusters() {
    let mut sim = converged();
    let plans = sim.until_complete(&fleet("2.0.0", &policy("")), 60);
    assert!(sim.every_cluster_pins("2.0.0"));
    assert!(
        plans
            .iter()
            .all(|p| p.modules[0].state != ModuleState::Halted)
    );
    let waited_for_offline = plans.iter().any(|p| {
        p.modules[0]
            .waves
            .iter()
            .any(|w| w.budget.is_some_and(|b| b.unavailable > 0))
    });
    assert!(waited_for_offline, "offline clusters used the budget");
}

/// Rolls the bad 2.0.0 out; returns the plans up to the halt and the canary's clusters.
fn bad_rollout(sim: &mut Simulation, v2: &Fleet) -> (Vec<Plan>, Vec<String>) {
    sim.bad = Some("2.0.0".into());
    let mut plans = Vec::new();
    for _ in 0..12 {
        let plan = sim.run(v2);
        let halted = plan.modules[0].state == ModuleState::Halted;
        plans.push(plan);
        if halted {
            let canary = plans[0].modules[0].waves[0].clusters.clone();
            return (plans, canary);
        }
    }
    panic!("no halt");
}

#[test]
fn a_bad_version_halts_in_the_canary_within_one_run_and_pushes_nothing_more() {
    let mut sim = converged();
    let v2 = fleet("2.0.0", &policy(""));
    let first_run = sim.now;
    let (plans, canary) = bad_rollout(&mut sim, &v2);
    let halted_at = plans.last().unwrap().now;
    // The canary landed at the first run; the failure shows APPLY + FAIL_AFTER later.
    let failure_shows = first_run + APPLY + FAIL_AFTER;
    assert!(halted_at >= failure_shows && halted_at < failure_shows + RUN_EVERY);
    let problems = &plans.last().unwrap().modules[0].problems;
    assert!(!problems.is_empty());
    for problem in problems {
        assert!(canary.contains(&problem.cluster), "{problem:?}");
        assert_eq!(problem.reason, "HealthCheckFailed");
        assert_eq!(problem.message, "Deployment/app: 0/3 replicas available");
    }
    for cluster in sim.flux.keys().filter(|c| !canary.contains(c)) {
        assert_eq!(
            sim.pinned(cluster),
            Some("1.0.0"),
            "{cluster} is beyond the canary"
        );
    }
    let tip = sim.tip;
    for _ in 0..8 {
        let plan = sim.run(&v2);
        assert_eq!(plan.modules[0].state, ModuleState::Halted);
    }
    assert_eq!(sim.tip, tip, "no later run pushes anything");
}

#[test]
fn with_rollback_two_runs_after_the_halt_every_cluster_pins_the_old_version() {
    let mut sim = converged();
    let v2 = fleet("2.0.0", &policy("onFailure: rollback"));
    bad_rollout(&mut sim, &v2);
    let plan = sim.run(&v2);
    assert_eq!(plan.modules[0].state, ModuleState::RollingBack);
    sim.run(&v2);
    assert!(sim.every_cluster_pins("1.0.0"));
    let tip = sim.tip;
    sim.run(&v2);
    assert_eq!(sim.tip, tip);
}

#[test]
fn with_night_windows_in_three_zones_every_change_lands_in_its_window() {
    let mut sim = converged();
    let window = "windows: [{days: [Mon, Tue, Wed, Thu, Fri], start: \"02:00\", end: \"05:00\", timeZone: \"{{ cluster.annotations['fleeet.dev/time-zone'] }}\"}]";
    let v2 = fleet("2.0.0", &policy(window));
    let start = sim.now;
    let plans = sim.until_complete(&v2, 14 * 96);
    let mut changes = 0;
    for plan in &plans {
        for change in &plan.changes {
            let local = plan
                .now
                .to_zoned(zone(ZONES[index(&change.cluster) % 3]).unwrap());
            let weekday = local.weekday().to_monday_one_offset();
            assert!(
                (1..=5).contains(&weekday) && (2..5).contains(&local.hour()),
                "{} changed at {local}",
                change.cluster
            );
            changes += 1;
        }
    }
    assert_eq!(changes, CLUSTERS);
    assert!(sim.every_cluster_pins("2.0.0"));
    assert!(sim.now > start);
}

/// Asserts that two reads of a branch hold the same: pointers (their files and versions),
/// records, foreign files, landing times and notes.
fn assert_same_state(a: &CurrentState, b: &CurrentState) {
    let pairs = |state: &CurrentState| {
        let clusters = &state.branch.pointers.clusters;
        clusters
            .iter()
            .flat_map(|(c, pointers)| {
                pointers.iter().map(move |(m, p)| {
                    let release = p.release.as_ref().map(Content::id);
                    let files = (p.main.id(), release, p.applied_from.clone());
                    ((c.clone(), m.clone()), (p.version.clone(), files))
                })
            })
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(pairs(a), pairs(b));
    let clusters = |state: &CurrentState| {
        let names = state.branch.pointers.clusters.keys();
        names.cloned().collect::<Vec<_>>()
    };
    assert_eq!(clusters(a), clusters(b));
    assert_eq!(a.branch.records, b.branch.records);
    assert_eq!(a.records, b.records);
    assert_eq!(a.branch.foreign, b.branch.foreign);
    assert_eq!(a.branch.rewrite, b.branch.rewrite);
    assert_eq!(a.landed_at, b.landed_at);
    assert_eq!(a.notes, b.notes);
}
