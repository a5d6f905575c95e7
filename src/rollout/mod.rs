//! Rollouts: the next safe step from the desired render, the rendered branch and health.
//!
//! [`plan`] is a pure function of the desired pointers (rendered from main), the current state
//! (the rendered branch: pointers, rollout records, and when each pointer landed), a health
//! snapshot and the clock. For each module it finds the pairs whose bytes differ (pending),
//! splits them into waves, and applies the first wave with pending pairs once every earlier
//! wave is healthy at the desired revision for `bakeTime`. Failures halt the module.

pub mod record;
pub mod waves;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use rayon::prelude::*;
use serde::Serialize;

use crate::health::HealthSnapshot;
use crate::health::kstatus::{self, Status};
use crate::layout::{self, Branch, Files};
use crate::model::{ApiVersion, Module, NewClusters, Policy, RolloutPolicy};
use crate::render::{Pointer, Rendered, Renderer};
pub use record::{Halt, PairProblem, RecordWave, RolloutRecord};

/// The rendered branch as the planner sees it.
#[derive(Clone, Debug, Default)]
pub struct CurrentState {
    pub branch: Branch,
    /// Rollout records by module.
    pub records: BTreeMap<String, RolloutRecord>,
    /// When each file's current content landed on the rendered branch (the committer time of
    /// the first-parent commit that last changed it), for the files asked by
    /// [`CurrentState::history_paths`]. `None` without history (a plain directory): then
    /// progress deadlines are not judged.
    pub landed_at: Option<BTreeMap<String, Timestamp>>,
    /// What was found on the branch but not understood.
    pub notes: Vec<String>,
}

impl CurrentState {
    /// Reads the rendered branch's files; clusters are under `path`.
    pub fn from_files(files: &Files, path: &str) -> CurrentState {
        let branch = layout::parse(files, path);
        let mut notes = branch.problems.clone();
        let mut records = BTreeMap::new();
        for (module, text) in &branch.records {
            match RolloutRecord::parse(&layout::record_path(module), text) {
                Ok(record) => {
                    records.insert(module.clone(), record);
                }
                Err(e) => notes.push(format!(
                    "{e}; the record is ignored and will be rewritten when {module} next changes"
                )),
            }
        }
        CurrentState {
            branch,
            records,
            landed_at: None,
            notes,
        }
    }

    /// The files whose landing time the plan needs: the pointers of clusters in the waves of
    /// rollouts in progress.
    pub fn history_paths(&self, path: &str) -> BTreeSet<String> {
        self.records
            .values()
            .flat_map(|r| {
                r.waves.iter().flat_map(move |w| {
                    w.clusters
                        .iter()
                        .map(move |c| layout::pair_path(&self.branch.pointers, path, c, &r.module))
                })
            })
            .collect()
    }
}

/// What a module's rollout is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ModuleState {
    /// Every cluster runs the desired state.
    Complete,
    /// This step applies a wave.
    Advancing,
    /// The applied waves are healthy; waiting for `bakeTime` to pass.
    Baking,
    /// Waiting for applied waves to become healthy (or for health to be known).
    Waiting,
    /// A wave failed; nothing moves until the module changes again.
    Halted,
    /// `paused: true`.
    Paused,
}

/// What a wave is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum WaveStatus {
    /// Healthy at the desired revision for `bakeTime` (or nothing to change).
    Complete,
    /// Healthy, baking.
    Baking,
    /// Applied, not healthy yet.
    Progressing,
    /// Applied in this step.
    Applying,
    /// Not applied yet.
    Pending,
    /// Failed: the rollout halted here.
    Failed,
}

/// One wave of a module in the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WavePlan {
    pub name: String,
    pub clusters: Vec<String>,
    /// How many of its clusters still differ from the desired state.
    pub pending: usize,
    pub status: WaveStatus,
}

/// One module in the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModulePlan {
    pub module: String,
    pub state: ModuleState,
    /// The version most clusters ran when the rollout started.
    pub from: Option<String>,
    /// The desired version (none when the module is being removed).
    pub to: Option<String>,
    pub waves: Vec<WavePlan>,
    /// Why the module is not advancing, or what this step does.
    pub reason: String,
    /// Clusters that failed or are not healthy yet, with what was seen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<PairProblem>,
    /// Health evidence of the waves before the one applied in this step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Clusters of this step held back until the modules they depend on are there (or, for a
    /// removal, until nothing there depends on this module any more).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<PairProblem>,
}

/// A cluster found healthy before the next wave was applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub cluster: String,
    pub wave: String,
    pub revision: String,
    /// Since when it is healthy (the later of Ready's last change and the pointer landing).
    pub since: Option<Timestamp>,
}

/// What happens to a pair in this step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    /// The module is added to the cluster.
    Add,
    /// The module changes on the cluster.
    Update,
    /// The module is removed from the cluster.
    Remove,
}

/// A pair changed by this step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub cluster: String,
    pub module: String,
    pub kind: ChangeKind,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The wave applied; none for immediate changes (new clusters at the stable version,
    /// clusters gone from the fleet).
    pub wave: Option<String>,
}

/// The next step of every module, and the rendered branch after it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub now: Timestamp,
    pub modules: Vec<ModulePlan>,
    pub changes: Vec<Change>,
    /// Clusters gone from the fleet: their folders are removed at once.
    pub removed_clusters: Vec<String>,
    /// Clusters new to the rendered branch: their folders are created at once.
    pub added_clusters: Vec<String>,
    /// Things worth knowing about the inputs (unknown files, no history, ...).
    pub notes: Vec<String>,
    /// The rendered branch after this step.
    #[serde(skip)]
    pub next: Branch,
    /// Whether `next` differs from the current branch at all.
    pub changed: bool,
    /// The versions on the rendered branch before this step, by cluster and module.
    #[serde(skip)]
    current: BTreeMap<String, BTreeMap<String, String>>,
}

impl Plan {
    /// The version the rendered branch held for a pair before this step.
    pub fn current_version(&self, cluster: &str, module: &str) -> Option<String> {
        self.current
            .get(cluster)
            .and_then(|m| m.get(module))
            .cloned()
    }
}

/// The inputs of [`plan`].
pub struct Inputs<'a> {
    /// The desired fleet, able to render a pair at another version.
    pub renderer: &'a Renderer<'a>,
    /// Every pair at its desired version.
    pub desired: &'a Rendered,
    pub current: &'a CurrentState,
    /// Health; none means nothing is known (every cluster unknown).
    pub health: Option<&'a HealthSnapshot>,
    pub now: Timestamp,
}

/// Plans the next step of every module.
pub fn plan(inputs: &Inputs<'_>) -> Plan {
    let fleet = inputs.renderer.fleet;
    let current = &inputs.current.branch.pointers;
    let mut notes = inputs.current.notes.clone();
    if inputs.current.landed_at.is_none() {
        notes.push("the current state has no history (a plain directory): progress deadlines are not judged".into());
    }
    if inputs.health.is_none() {
        notes.push("no health snapshot was given: every cluster's health is unknown".into());
    }
    let in_fleet: BTreeSet<&str> = fleet.clusters.iter().map(|c| c.name.as_str()).collect();
    let removed_clusters: Vec<String> = current
        .clusters
        .keys()
        .filter(|c| !in_fleet.contains(c.as_str()))
        .cloned()
        .collect();
    let added_clusters: Vec<String> = fleet
        .clusters
        .iter()
        .filter(|c| !current.clusters.contains_key(&c.name))
        .map(|c| c.name.clone())
        .collect();

    let mut module_names: BTreeSet<&str> = fleet.modules.iter().map(|m| m.name.as_str()).collect();
    for (cluster, modules) in &current.clusters {
        if in_fleet.contains(cluster.as_str()) {
            module_names.extend(modules.keys().map(String::as_str));
        }
    }
    module_names.extend(inputs.current.records.keys().map(String::as_str));

    let by_cluster: Vec<_> = fleet
        .clusters
        .iter()
        .map(|c| {
            (
                inputs.desired.clusters.get(&c.name),
                current.clusters.get(&c.name),
            )
        })
        .collect();
    let outcomes: Vec<Outcome> = module_names
        .into_par_iter()
        .map(|name| plan_module(inputs, &by_cluster, name))
        .collect();

    let mut next = inputs.current.branch.clone();
    next.problems.clear();
    let mut changes = Vec::new();
    for cluster in &removed_clusters {
        if let Some(modules) = next.pointers.clusters.remove(cluster) {
            for (module, pointer) in modules {
                changes.push(Change {
                    cluster: cluster.clone(),
                    module,
                    kind: ChangeKind::Remove,
                    from: Some(pointer.version),
                    to: None,
                    wave: None,
                });
            }
        }
    }
    for cluster in &added_clusters {
        next.pointers
            .clusters
            .insert(cluster.clone(), BTreeMap::new());
    }
    let mut modules = Vec::new();
    for outcome in outcomes {
        for (cluster, pointer) in outcome.set {
            let pairs = next.pointers.clusters.entry(cluster).or_default();
            match pointer {
                Some(p) => pairs.insert(outcome.plan.module.clone(), p),
                None => pairs.remove(&outcome.plan.module),
            };
        }
        match outcome.record {
            RecordUpdate::Keep => {}
            RecordUpdate::Remove => {
                next.records.remove(&outcome.plan.module);
            }
            RecordUpdate::Write(record) => {
                next.records
                    .insert(outcome.plan.module.clone(), record.to_yaml().into());
            }
        }
        changes.extend(outcome.changes);
        modules.push(outcome.plan);
    }
    defer_missing_dependencies(inputs, &mut next, &mut changes, &mut modules);
    changes.sort_by(|a, b| (&a.module, &a.cluster).cmp(&(&b.module, &b.cluster)));
    let before = &inputs.current.branch;
    let changed = !(layout::same_files(&next.pointers, &before.pointers)
        && next.records == before.records
        && next.foreign == before.foreign);
    Plan {
        now: inputs.now,
        modules,
        changes,
        removed_clusters,
        added_clusters,
        notes,
        next,
        changed,
        current: current
            .clusters
            .iter()
            .map(|(c, m)| {
                (
                    c.clone(),
                    m.iter()
                        .map(|(m, p)| (m.clone(), p.version.clone()))
                        .collect(),
                )
            })
            .collect(),
    }
}

/// Holds back changes whose dependencies would not be met on their cluster: a module added (or
/// changed) where a module it depends on is absent, or a module removed while another there
/// still depends on it. Flux would wait forever on those; they go in a later step instead.
fn defer_missing_dependencies(
    inputs: &Inputs<'_>,
    next: &mut Branch,
    changes: &mut Vec<Change>,
    modules: &mut [ModulePlan],
) {
    let renderer = inputs.renderer;
    let fleet = renderer.fleet;
    let depends_on = |cluster: &str, module: &str| -> BTreeSet<&str> {
        match (
            fleet
                .clusters
                .binary_search_by(|c| c.name.as_str().cmp(cluster)),
            fleet.module_index(module),
        ) {
            (Ok(c), Some(m)) => renderer.depends_on(c, m),
            _ => BTreeSet::new(),
        }
    };
    let had_changes: BTreeSet<String> = changes.iter().map(|c| c.module.clone()).collect();
    loop {
        let mut held = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            let Some(present) = next.pointers.clusters.get(&change.cluster) else {
                continue;
            };
            let missing: Vec<String> = match change.kind {
                ChangeKind::Add | ChangeKind::Update => depends_on(&change.cluster, &change.module)
                    .into_iter()
                    .filter(|d| !present.contains_key(*d))
                    .map(String::from)
                    .collect(),
                ChangeKind::Remove => present
                    .keys()
                    .filter(|other| {
                        depends_on(&change.cluster, other).contains(change.module.as_str())
                    })
                    .cloned()
                    .collect(),
            };
            if !missing.is_empty() {
                held.push((i, change.kind, missing));
            }
        }
        if held.is_empty() {
            break;
        }
        // Take the held changes out in one pass (removing them one by one is quadratic).
        let mut held: BTreeMap<usize, (ChangeKind, Vec<String>)> = held
            .into_iter()
            .map(|(i, kind, missing)| (i, (kind, missing)))
            .collect();
        let mut taken = Vec::with_capacity(held.len());
        let mut kept = Vec::with_capacity(changes.len() - held.len());
        for (i, change) in std::mem::take(changes).into_iter().enumerate() {
            match held.remove(&i) {
                Some((kind, missing)) => taken.push((change, kind, missing)),
                None => kept.push(change),
            }
        }
        *changes = kept;
        for (change, kind, missing) in taken.into_iter().rev() {
            let before = inputs
                .current
                .branch
                .pointers
                .clusters
                .get(&change.cluster)
                .and_then(|p| p.get(&change.module))
                .cloned();
            let pairs = next
                .pointers
                .clusters
                .entry(change.cluster.clone())
                .or_default();
            match before {
                Some(pointer) => pairs.insert(change.module.clone(), pointer),
                None => pairs.remove(&change.module),
            };
            if let Some(plan) = modules.iter_mut().find(|m| m.module == change.module) {
                let message = match kind {
                    ChangeKind::Remove => {
                        format!("{} still depend(s) on it there", missing.join(", "))
                    }
                    _ => format!("waits for {} to be there", missing.join(", ")),
                };
                plan.deferred.push(PairProblem {
                    cluster: change.cluster,
                    reason: "DependencyNotRendered".into(),
                    message,
                });
            }
        }
    }
    // A module whose every change was held back does not advance: its record stays as it was.
    for plan in modules.iter_mut().filter(|m| !m.deferred.is_empty()) {
        let held = format!(
            "{} held back until their dependencies are there: {}",
            count_clusters(plan.deferred.len()),
            describe(&plan.deferred)
        );
        if !had_changes.contains(&plan.module) || changes.iter().any(|c| c.module == plan.module) {
            plan.reason = format!("{}; {held}", plan.reason);
        } else {
            plan.reason = held;
            plan.state = ModuleState::Waiting;
            match inputs.current.branch.records.get(&plan.module) {
                Some(record) => next.records.insert(plan.module.clone(), record.clone()),
                None => next.records.remove(&plan.module),
            };
            for wave in plan
                .waves
                .iter_mut()
                .filter(|w| w.status == WaveStatus::Applying)
            {
                wave.status = WaveStatus::Pending;
            }
        }
    }
}

enum RecordUpdate {
    Keep,
    Remove,
    Write(RolloutRecord),
}

/// One module's step: its plan, the pointers it sets (none = remove), its record.
struct Outcome {
    plan: ModulePlan,
    changes: Vec<Change>,
    set: BTreeMap<String, Option<Pointer>>,
    record: RecordUpdate,
}

/// A pair of the module on one cluster of the fleet.
struct Pair<'a> {
    cluster: usize,
    name: &'a str,
    desired: Option<&'a Pointer>,
    /// Borrowed from the branch, or rendered at the stable version for a newcomer.
    current: Option<Cow<'a, Pointer>>,
}

impl Pair<'_> {
    fn pending(&self) -> bool {
        match (self.desired, &self.current) {
            (Some(d), Some(c)) => d.main != c.main || d.release != c.release,
            (None, None) => false,
            _ => true,
        }
    }
}

/// The desired and current pointers of each cluster of the fleet, by index.
type ByCluster<'a> = [(Option<&'a Modules>, Option<&'a Modules>)];
type Modules = BTreeMap<String, Pointer>;

fn plan_module<'a>(inputs: &Inputs<'a>, by_cluster: &ByCluster<'a>, name: &str) -> Outcome {
    let renderer = inputs.renderer;
    let fleet = renderer.fleet;
    let m = fleet.module_index(name);
    let module: Option<&Module> = m.map(|m| &fleet.modules[m]);
    let policy: Policy = match module {
        Some(module) => module.policy(&fleet.spec),
        None => fleet.spec.rollout.resolve(&RolloutPolicy::default()),
    };
    let desired_version = module.map(|m| m.spec.version.value.clone());
    let recorded = inputs.current.records.get(name);

    let mut pairs: Vec<Pair> = fleet
        .clusters
        .iter()
        .zip(by_cluster)
        .enumerate()
        .filter_map(|(c, (cluster, (desired, current)))| {
            let desired = desired.and_then(|p| p.get(name));
            let current = current.and_then(|p| p.get(name)).map(Cow::Borrowed);
            (desired.is_some() || current.is_some()).then_some(Pair {
                cluster: c,
                name: &cluster.name,
                desired,
                current,
            })
        })
        .collect();

    let mut plan = ModulePlan {
        module: name.to_string(),
        state: ModuleState::Complete,
        from: recorded.and_then(|r| r.from.clone()),
        to: desired_version.clone(),
        waves: Vec::new(),
        reason: String::new(),
        problems: Vec::new(),
        evidence: Vec::new(),
        deferred: Vec::new(),
    };
    let mut outcome_set = BTreeMap::new();
    let mut changes = Vec::new();

    if policy.paused {
        plan.state = ModuleState::Paused;
        let pending = pairs.iter().filter(|p| p.pending()).count();
        plan.reason =
            format!("paused: {pending} cluster(s) differ from the desired state and wait");
        if let Some(record) = recorded {
            plan.waves = record_waves(record, &pairs, |_| WaveStatus::Pending);
        }
        return Outcome {
            plan,
            changes,
            set: outcome_set,
            record: RecordUpdate::Keep,
        };
    }

    // Clusters newly matching (not part of the rollout in progress) get the version most
    // clusters run now, at once.
    let target = record::target(module);
    let existing = recorded.filter(|r| r.target == target);
    let rolling: BTreeSet<&str> = existing
        .iter()
        .flat_map(|r| {
            r.waves
                .iter()
                .flat_map(|w| w.clusters.iter().map(String::as_str))
        })
        .collect();
    let stable = stable_version(&pairs);
    if let (Some(m), Some(stable), NewClusters::Stable) = (m, &stable, policy.new_clusters) {
        let newcomers = pairs
            .iter_mut()
            .filter(|p| p.current.is_none() && p.desired.is_some() && !rolling.contains(p.name));
        for pair in newcomers {
            if let Ok(pointer) = renderer.render_pair(pair.cluster, m, stable) {
                changes.push(Change {
                    cluster: pair.name.to_string(),
                    module: name.to_string(),
                    kind: ChangeKind::Add,
                    from: None,
                    to: Some(stable.clone()),
                    wave: None,
                });
                outcome_set.insert(pair.name.to_string(), Some(pointer.clone()));
                pair.current = Some(Cow::Owned(pointer));
            }
        }
    }
    let pending: BTreeSet<&str> = pairs
        .iter()
        .filter(|p| p.pending())
        .map(|p| p.name)
        .collect();

    let mut record = match existing {
        Some(r) => {
            let mut r = r.clone();
            adopt_clusters(&mut r, &pairs, &policy, fleet);
            r
        }
        None if pending.is_empty() => {
            plan.reason = "every cluster runs the desired state".into();
            let update = if recorded.is_some() {
                RecordUpdate::Remove
            } else {
                RecordUpdate::Keep
            };
            return Outcome {
                plan,
                changes,
                set: outcome_set,
                record: update,
            };
        }
        None => {
            let scope: Vec<&crate::model::Cluster> =
                pairs.iter().map(|p| &fleet.clusters[p.cluster]).collect();
            RolloutRecord {
                api_version: ApiVersion::V1Alpha1,
                kind: record::RolloutKind::Rollout,
                module: name.to_string(),
                target: target.clone(),
                from: stable.clone(),
                to: desired_version.clone(),
                waves: waves::assign(name, &policy.waves, &scope)
                    .into_iter()
                    .map(|(name, clusters)| RecordWave {
                        name,
                        clusters,
                        applied: false,
                    })
                    .collect(),
                halted: None,
            }
        }
    };
    plan.from = record.from.clone();
    let by_name: BTreeMap<&str, &Pair> = pairs.iter().map(|p| (p.name, p)).collect();

    // Judge every pair of every wave.
    let judge = |cluster: &str| -> Judgement {
        let pair = by_name.get(cluster);
        judge_pair(inputs, &policy, name, cluster, pair.and_then(|p| p.desired))
    };
    let judged: Vec<Vec<(String, Judgement)>> = record
        .waves
        .iter()
        .map(|w| w.clusters.iter().map(|c| (c.clone(), judge(c))).collect())
        .collect();
    let wave_pending: Vec<usize> = record
        .waves
        .iter()
        .map(|w| {
            w.clusters
                .iter()
                .filter(|c| pending.contains(c.as_str()))
                .count()
        })
        .collect();

    let record_update = |record: RolloutRecord| {
        if recorded == Some(&record) {
            RecordUpdate::Keep
        } else {
            RecordUpdate::Write(record)
        }
    };

    if let Some(halt) = &record.halted {
        plan.state = ModuleState::Halted;
        plan.reason = format!("halted in wave {}: {}", halt.wave, describe(&halt.clusters));
        plan.problems = halt.clusters.clone();
        plan.waves = wave_plans(&record, &judged, &wave_pending, None, Some(&halt.wave));
        return Outcome {
            plan,
            changes,
            set: outcome_set,
            record: record_update(record),
        };
    }

    // A failure in an applied wave halts the rollout.
    for (i, wave) in record.waves.iter().enumerate().filter(|(_, w)| w.applied) {
        let failed: Vec<PairProblem> = judged[i]
            .iter()
            .filter(|(c, _)| !pending.contains(c.as_str()))
            .filter_map(|(c, j)| match j {
                Judgement::Failed { reason, message } => Some(PairProblem {
                    cluster: c.clone(),
                    reason: reason.clone(),
                    message: message.clone(),
                }),
                Judgement::Overdue { why } => Some(PairProblem {
                    cluster: c.clone(),
                    reason: "ProgressDeadlineExceeded".into(),
                    message: format!(
                        "not healthy {} after it was applied: {why}",
                        policy.progress_deadline
                    ),
                }),
                _ => None,
            })
            .collect();
        if !failed.is_empty() {
            let wave = wave.name.clone();
            plan.state = ModuleState::Halted;
            plan.reason = format!("halted in wave {wave}: {}", describe(&failed));
            plan.problems = failed.clone();
            record.halted = Some(Halt {
                wave: wave.clone(),
                clusters: failed,
            });
            plan.waves = wave_plans(&record, &judged, &wave_pending, None, Some(&wave));
            return Outcome {
                plan,
                changes,
                set: outcome_set,
                record: record_update(record),
            };
        }
    }

    let first_pending = wave_pending.iter().position(|&n| n > 0);
    let earlier = first_pending.unwrap_or(record.waves.len());
    let blocking: Vec<(String, &Judgement)> = (0..earlier)
        .flat_map(|i| judged[i].iter().map(|(c, j)| (c.clone(), j)))
        .filter(|(_, j)| !matches!(j, Judgement::Complete { .. }))
        .collect();

    if blocking.is_empty() {
        plan.evidence = (0..earlier)
            .flat_map(|i| {
                let wave = &record.waves[i].name;
                judged[i].iter().filter_map(move |(c, j)| match j {
                    Judgement::Complete {
                        since,
                        revision: Some(revision),
                    } => Some(Evidence {
                        cluster: c.clone(),
                        wave: wave.clone(),
                        revision: revision.clone(),
                        since: *since,
                    }),
                    _ => None,
                })
            })
            .collect();
        let Some(k) = first_pending else {
            plan.reason = "every cluster runs the desired state, healthy".into();
            plan.waves = wave_plans(&record, &judged, &wave_pending, None, None);
            return Outcome {
                plan,
                changes,
                set: outcome_set,
                record: RecordUpdate::Remove,
            };
        };
        // Apply wave k.
        let wave = record.waves[k].name.clone();
        for cluster in &record.waves[k].clusters {
            let Some(pair) = by_name.get(cluster.as_str()) else {
                continue;
            };
            if !pair.pending() {
                continue;
            }
            let from = pair.current.as_ref().map(|p| p.version.clone());
            let to = pair.desired.map(|p| p.version.clone());
            changes.push(Change {
                cluster: cluster.clone(),
                module: name.to_string(),
                kind: match (&from, &to) {
                    (None, _) => ChangeKind::Add,
                    (_, None) => ChangeKind::Remove,
                    _ => ChangeKind::Update,
                },
                from,
                to,
                wave: Some(wave.clone()),
            });
            outcome_set.insert(cluster.clone(), pair.desired.cloned());
        }
        record.waves[k].applied = true;
        plan.state = ModuleState::Advancing;
        plan.reason = format!(
            "applying wave {wave} ({} of {} waves) to {} cluster(s)",
            k + 1,
            record.waves.len(),
            wave_pending[k]
        );
        plan.waves = wave_plans(&record, &judged, &wave_pending, Some(k), None);
        return Outcome {
            plan,
            changes,
            set: outcome_set,
            record: record_update(record),
        };
    }

    // Earlier waves are not complete yet.
    let baking_until = blocking
        .iter()
        .filter_map(|(_, j)| match j {
            Judgement::Baking { until } => Some(*until),
            _ => None,
        })
        .max();
    let not_healthy: Vec<PairProblem> = blocking
        .iter()
        .filter_map(|(c, j)| match j {
            Judgement::Baking { .. } | Judgement::Complete { .. } => None,
            Judgement::Failed { reason, message } => Some(PairProblem {
                cluster: c.clone(),
                reason: reason.clone(),
                message: message.clone(),
            }),
            Judgement::Progressing { why } | Judgement::Overdue { why } => Some(PairProblem {
                cluster: c.clone(),
                reason: "Progressing".into(),
                message: why.clone(),
            }),
            Judgement::Unknown { why } => Some(PairProblem {
                cluster: c.clone(),
                reason: "Unknown".into(),
                message: why.clone(),
            }),
        })
        .collect();
    let next_wave = first_pending.map(|k| record.waves[k].name.clone());
    let waiting_for = next_wave.map_or_else(|| "completing".to_string(), |w| format!("wave {w}"));
    if not_healthy.is_empty() {
        plan.state = ModuleState::Baking;
        plan.reason = match baking_until {
            Some(until) => format!("baking: {waiting_for} can start at {until}"),
            None => format!("baking before {waiting_for}"),
        };
    } else {
        plan.state = ModuleState::Waiting;
        plan.reason = format!(
            "waiting for {} before {waiting_for}: {}",
            count_clusters(not_healthy.len()),
            describe(&not_healthy)
        );
        plan.problems = not_healthy;
    }
    plan.waves = wave_plans(&record, &judged, &wave_pending, None, None);
    Outcome {
        plan,
        changes,
        set: outcome_set,
        record: record_update(record),
    }
}

/// The version most of the module's clusters run now (ties: the lowest in string order).
fn stable_version(pairs: &[Pair]) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for pair in pairs {
        if let Some(current) = &pair.current
            && !current.version.is_empty()
        {
            *counts.entry(current.version.as_str()).or_default() += 1;
        }
    }
    let best = counts.values().copied().max()?;
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(v, _)| v.to_string())
}

/// Drops clusters gone from the module's scope from a record, and adds clusters new to it.
fn adopt_clusters(
    record: &mut RolloutRecord,
    pairs: &[Pair],
    policy: &Policy,
    fleet: &crate::model::Fleet,
) {
    let in_scope: BTreeSet<&str> = pairs.iter().map(|p| p.name).collect();
    for wave in &mut record.waves {
        wave.clusters.retain(|c| in_scope.contains(c.as_str()));
    }
    let known: BTreeSet<&str> = record
        .waves
        .iter()
        .flat_map(|w| w.clusters.iter().map(String::as_str))
        .collect();
    let last = record.waves.len().saturating_sub(1);
    let newcomers: Vec<(usize, String)> = pairs
        .iter()
        .filter(|p| !known.contains(p.name))
        .map(|p| {
            let wave = waves::for_newcomer(&policy.waves, &fleet.clusters[p.cluster]).min(last);
            (wave, p.name.to_string())
        })
        .collect();
    let mut joined = vec![false; record.waves.len()];
    for (i, name) in newcomers {
        if let Some(wave) = record.waves.get_mut(i) {
            wave.clusters.push(name);
            joined[i] = true;
        }
    }
    for (wave, joined) in record.waves.iter_mut().zip(joined) {
        if joined {
            wave.clusters.sort();
        }
    }
}

/// How a pair of a wave stands.
#[derive(Clone, Debug, PartialEq)]
enum Judgement {
    /// Healthy at the desired revision for `bakeTime` (or gone, for a removal).
    Complete {
        since: Option<Timestamp>,
        revision: Option<String>,
    },
    /// Healthy, but not yet for `bakeTime`.
    Baking {
        until: Timestamp,
    },
    Progressing {
        why: String,
    },
    /// Not healthy `progressDeadline` after its pointer landed.
    Overdue {
        why: String,
    },
    Failed {
        reason: String,
        message: String,
    },
    Unknown {
        why: String,
    },
}

fn judge_pair(
    inputs: &Inputs<'_>,
    policy: &Policy,
    module: &str,
    cluster: &str,
    desired: Option<&Pointer>,
) -> Judgement {
    let current = &inputs.current.branch.pointers;
    let applied_from = desired
        .or_else(|| current.clusters.get(cluster)?.get(module))
        .and_then(|p| p.applied_from.as_deref());
    let health = inputs.health.and_then(|h| h.view(cluster, applied_from));
    let path = &inputs.renderer.fleet.spec.output.path.value;
    let landed = inputs
        .current
        .landed_at
        .as_ref()
        .and_then(|l| l.get(&layout::pair_path(current, path, cluster, module)))
        .copied();
    let overdue = |why: String| match landed {
        Some(landed)
            if inputs.now.duration_since(landed) > secs(policy.progress_deadline.seconds()) =>
        {
            Judgement::Overdue { why }
        }
        _ => Judgement::Progressing { why },
    };
    let Some(desired) = desired else {
        return match kstatus::absent(health, module) {
            Ok(true) => Judgement::Complete {
                since: landed,
                revision: None,
            },
            Ok(false) => overdue("still on the cluster".into()),
            Err(why) => Judgement::Unknown { why },
        };
    };
    match kstatus::status(health, module, &desired.revision) {
        Status::Healthy { since } => {
            let since = match (since, landed) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            let until = since.map(|s| s + secs(policy.bake_time.seconds()));
            match until {
                Some(until) if until > inputs.now => Judgement::Baking { until },
                _ => Judgement::Complete {
                    since,
                    revision: Some(desired.revision.clone()),
                },
            }
        }
        Status::Progressing { why } => overdue(why),
        Status::Failed { reason, message } => Judgement::Failed { reason, message },
        Status::Unknown { why } => match overdue(why.clone()) {
            Judgement::Overdue { why } => Judgement::Overdue { why },
            _ => Judgement::Unknown { why },
        },
    }
}

fn secs(seconds: i64) -> SignedDuration {
    SignedDuration::from_secs(seconds)
}

fn wave_plans(
    record: &RolloutRecord,
    judged: &[Vec<(String, Judgement)>],
    pending: &[usize],
    applying: Option<usize>,
    failed: Option<&str>,
) -> Vec<WavePlan> {
    record
        .waves
        .iter()
        .enumerate()
        .map(|(i, wave)| {
            let all = |f: fn(&Judgement) -> bool| judged[i].iter().all(|(_, j)| f(j));
            let status = if Some(i) == applying {
                WaveStatus::Applying
            } else if failed == Some(wave.name.as_str()) {
                WaveStatus::Failed
            } else if pending[i] > 0 {
                WaveStatus::Pending
            } else if all(|j| matches!(j, Judgement::Complete { .. })) {
                WaveStatus::Complete
            } else if all(|j| matches!(j, Judgement::Complete { .. } | Judgement::Baking { .. })) {
                WaveStatus::Baking
            } else {
                WaveStatus::Progressing
            };
            WavePlan {
                name: wave.name.clone(),
                clusters: wave.clusters.clone(),
                pending: pending[i],
                status,
            }
        })
        .collect()
}

fn record_waves(
    record: &RolloutRecord,
    pairs: &[Pair],
    status: fn(usize) -> WaveStatus,
) -> Vec<WavePlan> {
    let pending: BTreeSet<&str> = pairs
        .iter()
        .filter(|p| p.pending())
        .map(|p| p.name)
        .collect();
    record
        .waves
        .iter()
        .enumerate()
        .map(|(i, w)| WavePlan {
            name: w.name.clone(),
            clusters: w.clusters.clone(),
            pending: w
                .clusters
                .iter()
                .filter(|c| pending.contains(c.as_str()))
                .count(),
            status: status(i),
        })
        .collect()
}

fn count_clusters(n: usize) -> String {
    if n == 1 {
        "1 cluster".into()
    } else {
        format!("{n} clusters")
    }
}

/// A short list of problems: the first few clusters with their reasons.
fn describe(problems: &[PairProblem]) -> String {
    let mut parts: Vec<String> = problems
        .iter()
        .take(3)
        .map(|p| {
            if p.message.is_empty() {
                format!("{} ({})", p.cluster, p.reason)
            } else {
                format!("{} ({}: {})", p.cluster, p.reason, p.message)
            }
        })
        .collect();
    if problems.len() > 3 {
        parts.push(format!("and {} more", problems.len() - 3));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests;
