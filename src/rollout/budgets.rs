//! Failure budgets: per wave, how many changed pairs may be unavailable (unknown, or still
//! progressing within their deadline) when the wave is judged complete, and how many may have
//! failed before the rollout stops. An unreachable cluster is never a failure: it uses the
//! unavailability budget, whatever its deadline.

use std::collections::HashSet;

use jiff::Timestamp;
use serde::Serialize;

use super::halt::failure;
use super::health::Judgement;
use super::record::{PairProblem, RecordWave};
use crate::model::Policy;

/// How a wave's changed pairs stand against its budgets.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// How many unavailable pairs the wave may have.
    pub max_unavailable: usize,
    /// How many failed pairs the wave may have.
    pub max_failures: usize,
    /// Unknown or progressing pairs.
    pub unavailable: Vec<PairProblem>,
    /// Failed pairs (a failure reason, Stalled, or overdue).
    pub failed: Vec<PairProblem>,
    /// Until when the latest of its baking pairs bakes (none: no pair is baking).
    pub baking_until: Option<Timestamp>,
}

/// The budget use of a wave, as the plan shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetUse {
    pub unavailable: usize,
    pub max_unavailable: usize,
    pub failed: usize,
    pub max_failures: usize,
}

impl Tally {
    /// Tallies the pairs of `wave` already changed (not in `pending`).
    pub fn new(
        policy: &Policy,
        wave: &RecordWave,
        pairs: &[(String, Judgement)],
        pending: &HashSet<&str>,
    ) -> Tally {
        let budgets = policy.budgets(&wave.name);
        let size = wave.clusters.len();
        let mut tally = Tally {
            max_unavailable: budgets.max_unavailable.of(size),
            max_failures: budgets.max_failures.of(size),
            ..Tally::default()
        };
        for (cluster, judgement) in pairs.iter().filter(|(c, _)| !pending.contains(c.as_str())) {
            if let Some(problem) = failure(policy, cluster, judgement) {
                tally.failed.push(problem);
                continue;
            }
            match judgement {
                Judgement::Baking { until } => {
                    tally.baking_until = tally.baking_until.max(Some(*until));
                }
                Judgement::Progressing { .. } | Judgement::Unknown { .. } => {
                    tally.unavailable.extend(judgement.problem(cluster));
                }
                _ => {}
            }
        }
        tally
    }

    /// More pairs failed than the budget allows: the rollout stops.
    pub fn over_failures(&self) -> bool {
        self.failed.len() > self.max_failures
    }

    /// More pairs are unavailable than the budget allows: the rollout waits.
    pub fn over_unavailable(&self) -> bool {
        self.unavailable.len() > self.max_unavailable
    }

    /// Complete: no pair baking, unavailable and failed pairs within their budgets.
    pub fn complete(&self) -> bool {
        self.baking_until.is_none() && !self.over_unavailable() && !self.over_failures()
    }

    /// The budget use, for the plan.
    pub fn usage(&self) -> BudgetUse {
        BudgetUse {
            unavailable: self.unavailable.len(),
            max_unavailable: self.max_unavailable,
            failed: self.failed.len(),
            max_failures: self.max_failures,
        }
    }
}
