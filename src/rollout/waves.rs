//! Splitting a module's clusters into waves, deterministically.

use sha2::{Digest, Sha256};

use crate::model::{Cluster, WaveSpec};
use crate::select;

/// The name of the single wave of a module without waves.
pub const ALL: &str = "all";

/// Splits `clusters` into the waves of `specs`: a wave with a selector takes the matching
/// clusters no earlier wave took; `count` or `percent` (rounded up, at least 1) limit how many,
/// taken in a stable order (sha256 of `module/cluster`); clusters left over join the last wave.
/// The result does not depend on the order of `clusters`.
pub fn assign(
    module: &str,
    specs: &[WaveSpec],
    clusters: &[&Cluster],
) -> Vec<(String, Vec<String>)> {
    if specs.is_empty() {
        let mut all: Vec<String> = clusters.iter().map(|c| c.name.clone()).collect();
        all.sort();
        return vec![(ALL.to_string(), all)];
    }
    let mut remaining: Vec<(String, &Cluster)> = clusters
        .iter()
        .map(|c| (order_key(module, &c.name), *c))
        .collect();
    remaining.sort_by(|a, b| a.0.cmp(&b.0));
    let mut waves = Vec::with_capacity(specs.len());
    for spec in specs {
        let eligible: Vec<usize> = remaining
            .iter()
            .enumerate()
            .filter(|(_, (_, c))| {
                spec.selector
                    .as_ref()
                    .is_none_or(|s| select::matches(s, &c.labels))
            })
            .map(|(i, _)| i)
            .collect();
        let take = match (spec.count, spec.percent) {
            (Some(count), _) => (count as usize).min(eligible.len()),
            (None, Some(percent)) if !eligible.is_empty() => {
                (eligible.len() * percent as usize).div_ceil(100).max(1)
            }
            _ => eligible.len(),
        };
        let mut taken = vec![false; remaining.len()];
        for &i in eligible.iter().take(take) {
            taken[i] = true;
        }
        let mut names = Vec::with_capacity(take);
        let mut rest = Vec::with_capacity(remaining.len() - take);
        for (entry, taken) in remaining.into_iter().zip(taken) {
            if taken {
                names.push(entry.1.name.clone());
            } else {
                rest.push(entry);
            }
        }
        remaining = rest;
        names.sort();
        waves.push((spec.name.clone(), names));
    }
    if let Some((_, last)) = waves.last_mut() {
        last.extend(remaining.into_iter().map(|(_, c)| c.name.clone()));
        last.sort();
    }
    waves
}

/// The wave a cluster that joins during a rollout belongs to: the first wave with a selector it
/// matches and no size limit, else the last wave.
pub fn for_newcomer(specs: &[WaveSpec], cluster: &Cluster) -> usize {
    specs
        .iter()
        .position(|s| {
            s.count.is_none()
                && s.percent.is_none()
                && s.selector
                    .as_ref()
                    .is_some_and(|sel| select::matches(sel, &cluster.labels))
        })
        .unwrap_or(specs.len().saturating_sub(1))
}

fn order_key(module: &str, cluster: &str) -> String {
    hex::encode(Sha256::digest(format!("{module}/{cluster}").as_bytes()))
}
