//! Rollback (`onFailure: rollback`): the run after a halt restores every pair the rollout
//! changed to exactly the bytes it had before (kept in the record), in one step and not in
//! waves (inside maintenance windows), as a pull request of its own. The module then stays
//! halted until it changes again in main.

use super::halt::stay_halted;
use super::health::{Judged, judge_pair};
use super::module::{Context, Outcome, RecordUpdate, Step};
use super::pairs::{ByName, Pair};
use super::record::{Halt, RolloutRecord};
use super::windows::Gate;
use super::{Change, ModuleState, RollbackPlan, WaveStatus};

/// Restores the pairs of a halted rollout not restored yet, and reports the health of those
/// that are.
pub fn roll_back(
    ctx: &Context<'_, '_>,
    gate: &Gate,
    step: &mut Step,
    record: &mut RolloutRecord,
    judged: &Judged,
    by_name: &ByName,
    halt: &Halt,
) {
    stay_halted(&mut step.plan, record, judged, halt);
    let mut report = RollbackPlan::default();
    for (cluster, saved) in &record.before {
        let Some(pair) = by_name.get(cluster.as_str()) else {
            report.restored += 1;
            continue;
        };
        let restored = match (saved, &pair.current) {
            (Some(saved), Some(current)) => saved.same_bytes(current),
            (None, None) => true,
            _ => false,
        };
        if restored {
            report.restored += 1;
            let pointer = saved.as_ref().map(|s| s.pointer());
            let current = pair.current.as_deref();
            let judgement = judge_pair(ctx, cluster, pointer.as_ref(), current);
            match judgement.problem(cluster) {
                None => report.healthy += 1,
                Some(problem) => report.not_healthy.push(problem),
            }
            continue;
        }
        if let Some(wait) = gate.closed(pair.cluster) {
            step.plan.outside_window.push(wait);
            continue;
        }
        let from = pair.current.as_ref().map(|p| p.version.clone());
        let to = saved.as_ref().map(|s| s.version.clone());
        step.changes.push(Change::new(
            cluster.clone(),
            ctx.name.to_string(),
            from,
            to,
            None,
        ));
        step.set
            .insert(cluster.clone(), saved.as_ref().map(|s| s.pointer()));
        report.restoring += 1;
    }
    let from = record.from.as_deref().unwrap_or("nothing");
    if report.restoring > 0 {
        record.rolled_back_at.get_or_insert(ctx.inputs.now);
        step.plan.state = ModuleState::RollingBack;
        step.plan.reason = format!(
            "rolling back after halting in wave {}: restoring {} cluster(s) to {from}",
            halt.wave, report.restoring
        );
    } else {
        step.plan.reason = format!(
            "rolled back to {from} after halting in wave {}: {} cluster(s) restored, {} healthy; halted until the module changes in main",
            halt.wave, report.restored, report.healthy
        );
    }
    step.plan.rollback = Some(report);
}

/// Saves what the rollout is about to change, when it may be rolled back.
pub fn save_before(ctx: &Context<'_, '_>, record: &mut RolloutRecord, pair: &Pair) {
    use std::borrow::Cow;
    if ctx.policy.on_failure != crate::model::OnFailure::Rollback
        || record.before.contains_key(pair.name)
    {
        return;
    }
    let saved = match &pair.current {
        Some(Cow::Borrowed(pointer)) => {
            // Rendered again for its revision, and for the texts of files read by id alone.
            let again = ctx.index.and_then(|m| {
                ctx.inputs
                    .renderer
                    .render_pair(pair.cluster, m, &pointer.version)
                    .ok()
            });
            let (pointer, revision) = match again {
                Some(again) => (pointer.with_texts_of(&again), again.revision),
                None => ((*pointer).clone(), pointer.version.clone()),
            };
            Some(super::record::SavedPointer::save(&pointer, revision))
        }
        // A newcomer's stable pointer is not on the branch yet: before, there was nothing.
        _ => None,
    };
    record.before.insert(pair.name.to_string(), saved);
}

/// A rollback is a pull request of its own: while one is proposed, the other modules' steps
/// wait (clusters gone from the fleet are still removed).
pub fn alone(outcomes: &mut [Outcome]) {
    let rolling_back: Vec<String> = outcomes
        .iter()
        .filter(|o| o.plan.state == ModuleState::RollingBack)
        .map(|o| o.plan.module.clone())
        .collect();
    if rolling_back.is_empty() {
        return;
    }
    let why = format!(
        "waits: the rollback of {} goes first, in a pull request of its own",
        rolling_back.join(", ")
    );
    for outcome in outcomes
        .iter_mut()
        .filter(|o| o.plan.state != ModuleState::RollingBack && !o.set.is_empty())
    {
        outcome.set.clear();
        outcome.changes.clear();
        if matches!(outcome.record, RecordUpdate::Write(_))
            && outcome.plan.state != ModuleState::Halted
        {
            outcome.record = RecordUpdate::Keep;
        }
        outcome.plan.state = ModuleState::Waiting;
        outcome.plan.reason = why.clone();
        for wave in outcome
            .plan
            .waves
            .iter_mut()
            .filter(|w| w.status == WaveStatus::Applying)
        {
            wave.status = WaveStatus::Pending;
        }
    }
}
