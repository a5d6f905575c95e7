//! Halting: a pair of an applied wave that failed (a failure reason, Stalled, or not healthy
//! `progressDeadline` after its pointer landed) beyond the wave's `maxFailures` stops the
//! module's rollout until the module changes again.

use super::health::{Judged, Judgement};
use super::record::{Halt, PairProblem, RolloutRecord};
use super::summary::{describe, wave_plans};
use super::{ModulePlan, ModuleState};
use crate::model::Policy;

/// A wave that failed, with its failed clusters.
pub struct Failed {
    pub wave: String,
    pub clusters: Vec<PairProblem>,
}

/// The first applied wave with more failed pairs than its budget allows.
pub fn failures(record: &RolloutRecord, judged: &Judged) -> Option<Failed> {
    record
        .waves
        .iter()
        .zip(&judged.tallies)
        .filter(|(wave, tally)| wave.applied && tally.over_failures())
        .map(|(wave, tally)| Failed {
            wave: wave.name.clone(),
            clusters: tally.failed.clone(),
        })
        .next()
}

/// The problem of a failed pair; none for a pair that did not fail.
pub fn failure(policy: &Policy, cluster: &str, judgement: &Judgement) -> Option<PairProblem> {
    match judgement {
        Judgement::Failed { reason, message } => Some(PairProblem {
            cluster: cluster.to_string(),
            reason: reason.clone(),
            message: message.clone(),
        }),
        Judgement::Overdue { why } => Some(PairProblem {
            cluster: cluster.to_string(),
            reason: "ProgressDeadlineExceeded".into(),
            message: format!(
                "not healthy {} after it was applied: {why}",
                policy.progress_deadline
            ),
        }),
        _ => None,
    }
}

/// Halts the rollout at `failed`, writing it into the record.
pub fn halt(plan: &mut ModulePlan, record: &mut RolloutRecord, judged: &Judged, failed: Failed) {
    let halt = Halt {
        wave: failed.wave,
        clusters: failed.clusters,
    };
    stay_halted(plan, record, judged, &halt);
    record.halted = Some(halt);
}

/// A rollout halted earlier stays so.
pub fn stay_halted(plan: &mut ModulePlan, record: &RolloutRecord, judged: &Judged, halt: &Halt) {
    plan.state = ModuleState::Halted;
    plan.reason = format!("halted in wave {}: {}", halt.wave, describe(&halt.clusters));
    plan.problems = halt.clusters.clone();
    plan.waves = wave_plans(record, judged, None, Some(&halt.wave));
}
