//! Rollouts: the next safe step from the desired render, the rendered branch and health.
//!
//! [`plan`] is a pure function of the desired pointers (rendered from main), the current state
//! (the rendered branch: pointers, rollout records, and when each pointer landed), a health
//! snapshot and the clock. Clusters gone from the fleet lose their folders at once; each module
//! is planned on its own ([`module`]: the sequence of the rules, one file each); then changes
//! whose dependencies are not there are held back ([`dependencies`]).

mod advance;
mod budgets;
mod current;
mod dependencies;
mod expect;
mod halt;
mod health;
mod lookup;
mod module;
mod pairs;
mod plan;
pub mod record;
mod rollback;
mod summary;
pub mod waves;
mod windows;

use std::collections::{BTreeSet, HashSet};
use std::iter::Peekable;
use std::sync::Arc;

use jiff::Timestamp;
use rayon::prelude::*;

use crate::health::HealthSnapshot;
use crate::layout::{self, Branch};
use crate::render::{Pointers, Rendered, Renderer};
pub use budgets::BudgetUse;
pub use current::{CurrentState, read_records};
pub use expect::{Sampled, expected_branch};
use module::{Outcome, RecordUpdate, plan_module};
pub use plan::{
    Change, ChangeKind, Evidence, ModulePlan, ModuleState, Plan, RollbackPlan, WavePlan,
    WaveStatus, WindowWait,
};
pub use record::{Halt, PairProblem, RecordWave, RolloutRecord, SavedPointer};

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
    let by_cluster = by_cluster(fleet, inputs.desired, current);
    let removed_clusters = gone_from(fleet, current);
    let added_clusters: Vec<String> = fleet
        .clusters
        .iter()
        .zip(&by_cluster)
        .filter(|(_, (_, current))| current.is_none())
        .map(|(c, _)| c.name.clone())
        .collect();

    let module_names = module_names(inputs, &by_cluster);
    let slots = pairs::slots(&by_cluster, &module_names);
    let health = lookup::HealthByCluster::new(inputs.health);
    let mut outcomes: Vec<Outcome> = module_names
        .into_par_iter()
        .zip(&slots)
        .map(|(name, slots)| plan_module(inputs, &health, &by_cluster, name, slots))
        .collect();
    rollback::alone(&mut outcomes);

    let mut next = start_next(&inputs.current.branch);
    let mut changes = remove_clusters(&mut next, &removed_clusters);
    for cluster in &added_clusters {
        next.pointers
            .clusters
            .insert(cluster.clone(), Default::default());
    }
    let mut modules = Vec::new();
    for outcome in outcomes {
        modules.push(apply(&mut next, outcome, &mut changes));
    }
    dependencies::defer_missing_dependencies(inputs, &mut next, &mut changes, &mut modules);
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
        notes: notes(inputs),
        next,
        changed,
    }
}

/// What the plan notes about its inputs: the current state's notes, and what is missing.
fn notes(inputs: &Inputs<'_>) -> Vec<String> {
    let mut notes = inputs.current.notes.clone();
    if inputs.current.landed_at.is_none() {
        notes.push("the current state has no history (a plain directory): progress deadlines are not judged".into());
    }
    if inputs.health.is_none() {
        notes.push("no health snapshot was given: every cluster's health is unknown".into());
    }
    notes
}

/// The fleet's modules, those on its clusters now, and those with a record, sorted.
fn module_names<'i>(inputs: &Inputs<'i>, by_cluster: &pairs::ByCluster<'i>) -> Vec<&'i str> {
    let fleet = inputs.renderer.fleet;
    let mut names: HashSet<&str> = fleet.modules.iter().map(|m| m.name.as_str()).collect();
    for (_, current) in by_cluster {
        names.extend(current.iter().flat_map(|p| p.keys()).map(String::as_str));
    }
    names.extend(inputs.current.records.keys().map(String::as_str));
    let mut names: Vec<&str> = names.into_iter().collect();
    names.sort_unstable();
    names
}

/// Takes the clusters gone from the fleet out of `next`: a removal of each of their pointers.
fn remove_clusters(next: &mut Branch, removed: &[String]) -> Vec<Change> {
    let mut changes = Vec::new();
    for cluster in removed {
        if let Some(modules) = next.pointers.clusters.remove(cluster) {
            for (module, pointer) in Pointers::clone(&modules) {
                changes.push(Change::new(
                    cluster.clone(),
                    module,
                    Some(pointer.version),
                    None,
                    None,
                ));
            }
        }
    }
    changes
}

/// Writes what a module's plan sets into `next` (its pointers and its record) and its changes
/// into `changes`. Returns the module's plan.
fn apply(next: &mut Branch, outcome: Outcome, changes: &mut Vec<Change>) -> ModulePlan {
    let module = &outcome.plan.module;
    for (cluster, pointer) in outcome.set {
        let pairs = Arc::make_mut(next.pointers.clusters.entry(cluster).or_default());
        match pointer {
            Some(p) => pairs.insert(module.clone(), p),
            None => pairs.remove(module),
        };
    }
    match outcome.record {
        RecordUpdate::Keep => {}
        RecordUpdate::Remove => {
            next.records.remove(module);
        }
        RecordUpdate::Write(record) => {
            next.records.insert(module.clone(), record.to_yaml().into());
        }
    }
    changes.extend(outcome.changes);
    outcome.plan
}

/// The desired and current pointers of each cluster of `fleet`, by index: the fleet's clusters
/// and both maps are sorted by name, so they are walked side by side, not looked up.
fn by_cluster<'a>(
    fleet: &crate::model::Fleet,
    desired: &'a Rendered,
    current: &'a Rendered,
) -> Vec<(Option<&'a Pointers>, Option<&'a Pointers>)> {
    let mut desired = desired.clusters.iter().peekable();
    let mut current = current.clusters.iter().peekable();
    let clusters = fleet.clusters.iter();
    clusters
        .map(|c| (find(&mut desired, &c.name), find(&mut current, &c.name)))
        .collect()
}

/// The clusters of `current` that are not in `fleet`: both are sorted by name, so they are
/// walked side by side.
fn gone_from(fleet: &crate::model::Fleet, current: &Rendered) -> Vec<String> {
    let mut fleet = fleet.clusters.iter().map(|c| c.name.as_str()).peekable();
    current
        .clusters
        .keys()
        .filter(|cluster| {
            while fleet.next_if(|c| *c < cluster.as_str()).is_some() {}
            fleet.next_if(|c| *c == cluster.as_str()).is_none()
        })
        .cloned()
        .collect()
}

/// The pointers of cluster `name` among `clusters` (a map's entries by name, each asked for in
/// order), skipping those before it.
fn find<'a>(
    clusters: &mut Peekable<impl Iterator<Item = (&'a String, &'a Arc<Pointers>)>>,
    name: &str,
) -> Option<&'a Pointers> {
    while clusters.next_if(|(c, _)| c.as_str() < name).is_some() {}
    clusters.next_if(|(c, _)| *c == name).map(|(_, p)| &**p)
}

/// The current branch as the start of the next, without the problems found reading it. Its
/// clusters' pointers are shared until the plan changes them.
fn start_next(current: &layout::Branch) -> layout::Branch {
    layout::Branch {
        pointers: current.pointers.clone(),
        records: current.records.clone(),
        foreign: current.foreign.clone(),
        syncs: current.syncs.clone(),
        problems: Vec::new(),
        rewrite: BTreeSet::new(),
    }
}

#[cfg(test)]
mod tests;
