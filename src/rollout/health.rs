//! Health judgement: how each pair of a wave stands, from the snapshot, the landing time of
//! its pointer and the policy's bake time and progress deadline.

use jiff::{SignedDuration, Timestamp};

use std::collections::HashSet;

use super::budgets::Tally;
use super::module::Context;
use super::pairs::ByName;
use super::record::PairProblem;
use crate::health::kstatus::{self, Status};
use crate::layout;
use crate::render::Pointer;

/// How a pair of a wave stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Judgement {
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

impl Judgement {
    /// What a pair not healthy shows (none when healthy or baking).
    pub fn problem(&self, cluster: &str) -> Option<PairProblem> {
        let (reason, message) = match self {
            Judgement::Complete { .. } | Judgement::Baking { .. } => return None,
            Judgement::Failed { reason, message } => (reason.clone(), message.clone()),
            Judgement::Progressing { why } | Judgement::Overdue { why } => {
                ("Progressing".into(), why.clone())
            }
            Judgement::Unknown { why } => ("Unknown".into(), why.clone()),
        };
        Some(PairProblem {
            cluster: cluster.to_string(),
            reason,
            message,
        })
    }
}

/// How the pair of the module of `ctx` on `cluster` stands, its pointer being `desired` (none:
/// removed) and `current` on the rendered branch.
pub fn judge_pair(
    ctx: &Context<'_, '_>,
    cluster: &str,
    desired: Option<&Pointer>,
    current: Option<&Pointer>,
) -> Judgement {
    let (inputs, policy, module) = (ctx.inputs, &ctx.policy, ctx.name);
    let applied_from = desired.or(current).and_then(|p| p.applied_from.as_deref());
    let health = ctx.health.view(cluster, applied_from);
    let path = &inputs.renderer.fleet.spec.output.path.value;
    let landed = inputs
        .current
        .landed_at
        .as_ref()
        .and_then(|l| l.get(&layout::path_of(path, cluster, module, current)))
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
        // Unreachable is never a failure, whatever the deadline: it uses the budget.
        Status::Unknown { why } => Judgement::Unknown { why },
    }
}

pub fn secs(seconds: i64) -> SignedDuration {
    SignedDuration::from_secs(seconds)
}

/// Every pair of every wave of a rollout, judged, and how many of each wave's pairs are
/// still pending.
pub struct Judged {
    /// Per wave, its clusters with their judgement.
    pub pairs: Vec<Vec<(String, Judgement)>>,
    /// Per wave, how many of its clusters still differ from the desired state.
    pub pending: Vec<usize>,
    /// Per wave, its changed pairs against its budgets.
    pub tallies: Vec<Tally>,
}

impl Judged {
    /// Judges the waves of `record` of the module of `ctx`, whose pairs are `by_name`.
    pub fn new(
        ctx: &Context<'_, '_>,
        record: &super::RolloutRecord,
        by_name: &ByName<'_>,
        pending: &HashSet<&str>,
    ) -> Judged {
        let pairs: Vec<Vec<(String, Judgement)>> = record
            .waves
            .iter()
            .map(|w| {
                w.clusters
                    .iter()
                    .map(|c| {
                        let pair = by_name.get(c.as_str());
                        let desired = pair.and_then(|p| p.desired);
                        let current = match pair {
                            Some(pair) => pair.current.as_deref(),
                            // A cluster gone from the fleet: the branch may hold it still.
                            None => ctx
                                .inputs
                                .current
                                .branch
                                .pointers
                                .clusters
                                .get(c.as_str())
                                .and_then(|p| p.get(ctx.name)),
                        };
                        (c.clone(), judge_pair(ctx, c, desired, current))
                    })
                    .collect()
            })
            .collect();
        let counts = record
            .waves
            .iter()
            .map(|w| {
                w.clusters
                    .iter()
                    .filter(|c| pending.contains(c.as_str()))
                    .count()
            })
            .collect();
        let tallies = record
            .waves
            .iter()
            .zip(&pairs)
            .map(|(wave, judged)| Tally::new(&ctx.policy, wave, judged, pending))
            .collect();
        Judged {
            pairs,
            pending: counts,
            tallies,
        }
    }

    /// The index of the first wave with pending pairs.
    pub fn first_pending(&self) -> Option<usize> {
        self.pending.iter().position(|&n| n > 0)
    }
}
