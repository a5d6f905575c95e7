//! Plain-words summaries of waves and problems, for the plan's reasons.

use std::collections::BTreeSet;

use super::health::Judged;
use super::pairs::Pair;
use super::record::{PairProblem, RolloutRecord};
use super::{WavePlan, WaveStatus};

/// The waves of a rollout as the plan shows them.
pub fn wave_plans(
    record: &RolloutRecord,
    judged: &Judged,
    applying: Option<usize>,
    failed: Option<&str>,
) -> Vec<WavePlan> {
    record
        .waves
        .iter()
        .enumerate()
        .map(|(i, wave)| {
            let pending = &judged.pending;
            let tally = &judged.tallies[i];
            let status = if Some(i) == applying {
                WaveStatus::Applying
            } else if failed == Some(wave.name.as_str()) {
                WaveStatus::Failed
            } else if pending[i] > 0 {
                WaveStatus::Pending
            } else if tally.complete() {
                WaveStatus::Complete
            } else if !tally.over_unavailable() && !tally.over_failures() {
                WaveStatus::Baking
            } else {
                WaveStatus::Progressing
            };
            WavePlan {
                name: wave.name.clone(),
                clusters: wave.clusters.clone(),
                pending: pending[i],
                status,
                budget: (wave.applied || Some(i) == applying).then(|| judged.tallies[i].usage()),
            }
        })
        .collect()
}

/// The waves of a record, all with the same status.
pub fn record_waves(
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
            budget: None,
        })
        .collect()
}

/// "1 cluster", "3 clusters".
pub fn count_clusters(n: usize) -> String {
    if n == 1 {
        "1 cluster".into()
    } else {
        format!("{n} clusters")
    }
}

/// A short list of problems: the first few clusters with their reasons.
pub fn describe(problems: &[PairProblem]) -> String {
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
