//! Dependency hold-back: a change waits while the modules it depends on are not on its
//! cluster, and a removal waits while another module there still depends on it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::summary::{count_clusters, describe};
use super::{Change, ChangeKind, Inputs, ModulePlan, ModuleState, PairProblem, WaveStatus};
use crate::layout::Branch;

/// Holds back changes whose dependencies would not be met on their cluster: a module added (or
/// changed) where a module it depends on is absent, or a module removed while another there
/// still depends on it. Flux would wait forever on those; they go in a later step instead.
pub fn defer_missing_dependencies(
    inputs: &Inputs<'_>,
    next: &mut Branch,
    changes: &mut Vec<Change>,
    modules: &mut [ModulePlan],
) {
    let had_changes: BTreeSet<String> = changes.iter().map(|c| c.module.clone()).collect();
    // Holding a change back may leave another without what it needs: hold until none does.
    loop {
        let held = held_back(inputs, next, changes);
        if held.is_empty() {
            break;
        }
        for (change, missing) in take(changes, held).into_iter().rev() {
            hold_back(inputs, next, modules, change, &missing);
        }
    }
    // A module whose every change was held back does not advance: its record stays as it was.
    for plan in modules.iter_mut().filter(|m| !m.deferred.is_empty()) {
        let advances = changes.iter().any(|c| c.module == plan.module);
        if !had_changes.contains(&plan.module) || advances {
            let held = held_summary(plan);
            plan.reason = format!("{}; {held}", plan.reason);
        } else {
            stay(inputs, next, plan);
        }
    }
}

/// The dependencies a change lacks on its cluster in `next`, by the change's index: for an
/// addition or update the modules it depends on that are not there, for a removal those
/// there that still depend on it.
fn held_back(
    inputs: &Inputs<'_>,
    next: &Branch,
    changes: &[Change],
) -> BTreeMap<usize, Vec<String>> {
    let renderer = inputs.renderer;
    let fleet = renderer.fleet;
    let depends_on = |cluster: &str, module: &str| -> BTreeSet<&str> {
        match (fleet.cluster_index(cluster), fleet.module_index(module)) {
            (Some(c), Some(m)) => renderer.depends_on(c, m),
            _ => BTreeSet::new(),
        }
    };
    let mut held = BTreeMap::new();
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
                .filter(|other| depends_on(&change.cluster, other).contains(change.module.as_str()))
                .cloned()
                .collect(),
        };
        if !missing.is_empty() {
            held.insert(i, missing);
        }
    }
    held
}

/// Takes the changes `held` (by index) out of `changes`, in one pass (removing them one by one
/// is quadratic), each with what it lacks.
fn take(
    changes: &mut Vec<Change>,
    mut held: BTreeMap<usize, Vec<String>>,
) -> Vec<(Change, Vec<String>)> {
    let mut taken = Vec::with_capacity(held.len());
    let mut kept = Vec::with_capacity(changes.len() - held.len());
    for (i, change) in std::mem::take(changes).into_iter().enumerate() {
        match held.remove(&i) {
            Some(missing) => taken.push((change, missing)),
            None => kept.push(change),
        }
    }
    *changes = kept;
    taken
}

/// Puts back in `next` what the current branch holds for the pair of `change`, and notes on
/// its module's plan why the pair waits.
fn hold_back(
    inputs: &Inputs<'_>,
    next: &mut Branch,
    modules: &mut [ModulePlan],
    change: Change,
    missing: &[String],
) {
    let before = inputs
        .current
        .branch
        .pointers
        .clusters
        .get(&change.cluster)
        .and_then(|p| p.get(&change.module))
        .cloned();
    let pairs = Arc::make_mut(
        next.pointers
            .clusters
            .entry(change.cluster.clone())
            .or_default(),
    );
    match before {
        Some(pointer) => pairs.insert(change.module.clone(), pointer),
        None => pairs.remove(&change.module),
    };
    if let Some(plan) = modules.iter_mut().find(|m| m.module == change.module) {
        let message = match change.kind {
            ChangeKind::Remove => format!("{} still depend(s) on it there", missing.join(", ")),
            _ => format!("waits for {} to be there", missing.join(", ")),
        };
        plan.deferred.push(PairProblem {
            cluster: change.cluster,
            reason: "DependencyNotRendered".into(),
            message,
        });
    }
}

/// Why the pairs of `plan` held back wait, in a line.
fn held_summary(plan: &ModulePlan) -> String {
    format!(
        "{} held back until their dependencies are there: {}",
        count_clusters(plan.deferred.len()),
        describe(&plan.deferred)
    )
}

/// A module all of whose changes were held back waits: its record stays as the current
/// branch holds it, and the waves it was applying are pending again.
fn stay(inputs: &Inputs<'_>, next: &mut Branch, plan: &mut ModulePlan) {
    plan.reason = held_summary(plan);
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
