//! Waves: a module's clusters split deterministically when a rollout starts, frozen in the
//! rollout record, and followed as clusters join or leave the module.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::module::Context;
use super::pairs::Pair;
use super::record::{self, RecordWave, RolloutKind, RolloutRecord};
use crate::model::{ApiVersion, Cluster, WaveSpec};
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

/// The record of the module's rollout: the one in progress (following the clusters that joined
/// or left), or a new one when pairs are pending. `None`: nothing to roll out.
pub fn rollout(
    ctx: &Context<'_, '_>,
    existing: Option<&RolloutRecord>,
    pairs: &[Pair],
    any_pending: bool,
    stable: Option<String>,
) -> Option<RolloutRecord> {
    if let Some(existing) = existing {
        let mut record = existing.clone();
        adopt_clusters(ctx, &mut record, pairs);
        return Some(record);
    }
    if !any_pending {
        return None;
    }
    let fleet = ctx.inputs.renderer.fleet;
    let scope: Vec<&Cluster> = pairs.iter().map(|p| &fleet.clusters[p.cluster]).collect();
    Some(RolloutRecord {
        api_version: ApiVersion::V1Alpha1,
        kind: RolloutKind::Rollout,
        module: ctx.name.to_string(),
        target: record::target(ctx.module),
        from: stable,
        to: ctx.desired_version(),
        waves: assign(ctx.name, &ctx.policy.waves, &scope)
            .into_iter()
            .map(|(name, clusters)| RecordWave {
                name,
                clusters,
                applied: false,
            })
            .collect(),
        halted: None,
        before: Default::default(),
        rolled_back_at: None,
    })
}

/// Drops clusters gone from the module's scope from a record, and adds clusters new to it.
fn adopt_clusters(ctx: &Context<'_, '_>, record: &mut RolloutRecord, pairs: &[Pair]) {
    let fleet = ctx.inputs.renderer.fleet;
    let in_scope: BTreeSet<&str> = pairs.iter().map(|p| p.name).collect();
    for wave in &mut record.waves {
        wave.clusters.retain(|c| in_scope.contains(c.as_str()));
    }
    let known: BTreeSet<&str> = record
        .waves
        .iter()
        .flat_map(|w| w.clusters.iter().map(String::as_str))
        .collect();
    let last = record.waves.len().saturating_sub(1);
    let newcomers: Vec<(usize, String)> = pairs
        .iter()
        .filter(|p| !known.contains(p.name))
        .map(|p| {
            let wave = for_newcomer(&ctx.policy.waves, &fleet.clusters[p.cluster]).min(last);
            (wave, p.name.to_string())
        })
        .collect();
    let mut joined = vec![false; record.waves.len()];
    for (i, name) in newcomers {
        if let Some(wave) = record.waves.get_mut(i) {
            wave.clusters.push(name);
            joined[i] = true;
        }
    }
    for (wave, joined) in record.waves.iter_mut().zip(joined) {
        if joined {
            wave.clusters.sort();
        }
    }
}
