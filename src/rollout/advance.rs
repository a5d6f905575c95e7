//! Advancing: the first wave with pending pairs is applied once every earlier wave is
//! complete (each pair healthy at the desired revision for `bakeTime`); until then the module
//! bakes or waits, saying for what.

use super::budgets::Tally;
use super::health::{Judged, Judgement};
use super::module::{Context, Step};
use super::pairs::ByName;
use super::record::{PairProblem, RolloutRecord};
use super::rollback;
use super::summary::{count_clusters, describe, wave_plans};
use super::windows::Gate;
use super::{Change, Evidence, ModulePlan, ModuleState, WindowWait};

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

/// Applies wave `k`: every pending pair of it inside its maintenance window moves to the
/// desired state; the others wait for their window.
pub fn apply_wave(
    ctx: &Context<'_, '_>,
    gate: &Gate,
    step: &mut Step,
    record: &mut RolloutRecord,
    judged: &Judged,
    by_name: &ByName,
    k: usize,
) {
    let wave = record.waves[k].name.clone();
    let mut changed = 0;
    for cluster in record.waves[k].clusters.clone() {
        let Some(pair) = by_name.get(cluster.as_str()).filter(|p| p.pending()) else {
            continue;
        };
        if let Some(wait) = gate.closed(pair.cluster) {
            step.plan.outside_window.push(wait);
            continue;
        }
        let from = pair.current.as_ref().map(|p| p.version.clone());
        let to = pair.desired.map(|p| p.version.clone());
        step.changes.push(Change::new(
            cluster.clone(),
            ctx.name.to_string(),
            from,
            to,
            Some(wave.clone()),
        ));
        step.set.insert(cluster.clone(), pair.desired.cloned());
        rollback::save_before(ctx, record, pair);
        changed += 1;
    }
    let waiting = window_note(&step.plan.outside_window);
    if changed == 0 {
        step.plan.state = ModuleState::Waiting;
        step.plan.reason = format!("wave {wave} waits for its maintenance windows: {waiting}");
        step.plan.waves = wave_plans(record, judged, None, None);
        return;
    }
    record.waves[k].applied = true;
    step.plan.state = ModuleState::Advancing;
    step.plan.reason = format!(
        "applying wave {wave} ({} of {} waves) to {changed} cluster(s)",
        k + 1,
        record.waves.len(),
    );
    if !step.plan.outside_window.is_empty() {
        step.plan.reason.push_str(&format!("; {waiting}"));
    }
    step.plan.waves = wave_plans(record, judged, Some(k), None);
}

/// "3 clusters wait for their windows, the next opens at …".
pub fn window_note(waits: &[WindowWait]) -> String {
    let next = waits.iter().filter_map(|w| w.opens).min();
    let broken = waits.iter().filter(|w| w.problem.is_some()).count();
    let mut note = match waits.len() {
        1 => "1 cluster waits for its window".to_string(),
        n => format!("{n} clusters wait for their windows"),
    };
    if let Some(next) = next {
        note.push_str(&format!(", the next opens at {next}"));
    }
    if broken > 0 {
        note.push_str(&format!(
            " ({} without a known time zone)",
            count_clusters(broken)
        ));
    }
    note
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
