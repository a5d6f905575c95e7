//! Advancing: the first wave with pending pairs is applied once every earlier wave is
//! complete (each pair healthy at the desired revision for `bakeTime`); until then the module
//! bakes or waits, saying for what.

use std::collections::BTreeMap;

use super::budgets::Tally;
use super::health::{Judged, Judgement};
use super::module::{Context, Step};
use super::pairs::Pair;
use super::record::{PairProblem, RolloutRecord};
use super::summary::{count_clusters, describe, wave_plans};
use super::{Change, ChangeKind, Evidence, ModulePlan, ModuleState};

/// How the waves before the current one stand.
pub enum Earlier<'j> {
    /// Complete, with the health evidence.
    Complete(Vec<Evidence>),
    /// Not yet: the tallies of the waves that are not complete.
    Blocked(Vec<&'j Tally>),
}

/// Whether the waves before the first with pending pairs are complete: none baking, and no
/// more pairs unavailable than their budgets allow.
pub fn earlier_waves<'j>(record: &RolloutRecord, judged: &'j Judged) -> Earlier<'j> {
    let earlier = judged.first_pending().unwrap_or(record.waves.len());
    let blocking: Vec<&Tally> = judged.tallies[..earlier]
        .iter()
        .filter(|t| !t.complete())
        .collect();
    if !blocking.is_empty() {
        return Earlier::Blocked(blocking);
    }
    let evidence = record.waves[..earlier]
        .iter()
        .zip(&judged.pairs)
        .flat_map(|(wave, pairs)| {
            pairs.iter().filter_map(move |(c, j)| match j {
                Judgement::Complete {
                    since,
                    revision: Some(revision),
                } => Some(Evidence {
                    cluster: c.clone(),
                    wave: wave.name.clone(),
                    revision: revision.clone(),
                    since: *since,
                }),
                _ => None,
            })
        })
        .collect();
    Earlier::Complete(evidence)
}

/// Applies wave `k`: every pending pair of it moves to the desired state.
pub fn apply_wave(
    ctx: &Context<'_, '_>,
    step: &mut Step,
    record: &mut RolloutRecord,
    judged: &Judged,
    by_name: &BTreeMap<&str, &Pair>,
    k: usize,
) {
    let wave = record.waves[k].name.clone();
    for cluster in &record.waves[k].clusters {
        let Some(pair) = by_name.get(cluster.as_str()).filter(|p| p.pending()) else {
            continue;
        };
        let from = pair.current.as_ref().map(|p| p.version.clone());
        let to = pair.desired.map(|p| p.version.clone());
        step.changes.push(Change {
            cluster: cluster.clone(),
            module: ctx.name.to_string(),
            kind: match (&from, &to) {
                (None, _) => ChangeKind::Add,
                (_, None) => ChangeKind::Remove,
                _ => ChangeKind::Update,
            },
            from,
            to,
            wave: Some(wave.clone()),
        });
        step.set.insert(cluster.clone(), pair.desired.cloned());
    }
    record.waves[k].applied = true;
    step.plan.state = ModuleState::Advancing;
    step.plan.reason = format!(
        "applying wave {wave} ({} of {} waves) to {} cluster(s)",
        k + 1,
        record.waves.len(),
        judged.pending[k]
    );
    step.plan.waves = wave_plans(record, judged, Some(k), None);
}

/// The earlier waves are not complete: the module waits, naming the pairs unavailable beyond
/// the budget, or bakes (every other pair healthy, not for long enough yet).
pub fn wait(plan: &mut ModulePlan, record: &RolloutRecord, judged: &Judged, blocking: &[&Tally]) {
    let unavailable: Vec<PairProblem> = blocking
        .iter()
        .filter(|t| t.over_unavailable())
        .flat_map(|t| t.unavailable.iter().cloned())
        .collect();
    let baking_until = blocking.iter().filter_map(|t| t.baking_until).max();
    let next_wave = judged.first_pending().map(|k| &record.waves[k].name);
    let waiting_for = next_wave.map_or_else(|| "completing".to_string(), |w| format!("wave {w}"));
    if unavailable.is_empty() {
        plan.state = ModuleState::Baking;
        plan.reason = match baking_until {
            Some(until) => format!("baking: {waiting_for} can start at {until}"),
            None => format!("baking before {waiting_for}"),
        };
    } else {
        plan.state = ModuleState::Waiting;
        plan.reason = format!(
            "waiting for {} before {waiting_for}: {}",
            count_clusters(unavailable.len()),
            describe(&unavailable)
        );
        plan.problems = unavailable;
    }
    plan.waves = wave_plans(record, judged, None, None);
}
