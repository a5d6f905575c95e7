//! A module's pairs (one per cluster it is or was on), and the rule for clusters that newly
//! match it: they get the version most clusters run now, at once.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::Change;
use super::module::{Context, Step};
use super::windows::Gate;
use crate::model::NewClusters;
use crate::render::Pointer;

/// A pair of the module on one cluster of the fleet.
pub struct Pair<'a> {
    /// The cluster's index in the fleet.
    pub cluster: usize,
    pub name: &'a str,
    pub desired: Option<&'a Pointer>,
    /// Borrowed from the branch, or rendered at the stable version for a newcomer.
    pub current: Option<Cow<'a, Pointer>>,
}

impl Pair<'_> {
    /// Whether its bytes differ from the desired state.
    pub fn pending(&self) -> bool {
        match (self.desired, &self.current) {
            (Some(d), Some(c)) => d.main != c.main || d.release != c.release,
            (None, None) => false,
            _ => true,
        }
    }
}

/// The desired and current pointers of each cluster of the fleet, by index.
pub type ByCluster<'a> = [(Option<&'a Modules>, Option<&'a Modules>)];
pub type Modules = crate::render::Pointers;

/// The pairs of module `name`: every cluster where it is desired or currently is.
pub fn collect<'a>(ctx: &Context<'_, 'a>, by_cluster: &ByCluster<'a>) -> Vec<Pair<'a>> {
    ctx.inputs
        .renderer
        .fleet
        .clusters
        .iter()
        .zip(by_cluster)
        .enumerate()
        .filter_map(|(c, (cluster, (desired, current)))| {
            let desired = desired.and_then(|p| p.get(ctx.name));
            let current = current.and_then(|p| p.get(ctx.name)).map(Cow::Borrowed);
            (desired.is_some() || current.is_some()).then_some(Pair {
                cluster: c,
                name: &cluster.name,
                desired,
                current,
            })
        })
        .collect()
}

/// The names of the pairs still differing from the desired state.
pub fn pending<'a>(pairs: &[Pair<'a>]) -> BTreeSet<&'a str> {
    pairs
        .iter()
        .filter(|p| p.pending())
        .map(|p| p.name)
        .collect()
}

/// The version most of the module's clusters run now (ties: the lowest in string order).
pub fn stable_version(pairs: &[Pair]) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for pair in pairs {
        if let Some(current) = &pair.current
            && !current.version.is_empty()
        {
            *counts.entry(current.version.as_str()).or_default() += 1;
        }
    }
    let best = counts.values().copied().max()?;
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(v, _)| v.to_string())
}

/// With `newClusters: stable`, a cluster newly matching the module (not part of the rollout in
/// progress, `rolling`) gets the `stable` version at once (inside its maintenance window); it
/// then upgrades with its wave.
pub fn place_newcomers(
    ctx: &Context<'_, '_>,
    gate: &Gate,
    pairs: &mut [Pair<'_>],
    stable: Option<&str>,
    rolling: &BTreeSet<&str>,
    step: &mut Step,
) {
    let (Some(m), Some(stable), NewClusters::Stable) = (ctx.index, stable, ctx.policy.new_clusters)
    else {
        return;
    };
    let newcomers = pairs
        .iter_mut()
        .filter(|p| p.current.is_none() && p.desired.is_some() && !rolling.contains(p.name));
    for pair in newcomers {
        if let Some(wait) = gate.closed(pair.cluster) {
            step.plan.outside_window.push(wait);
            continue;
        }
        if let Ok(pointer) = ctx.inputs.renderer.render_pair(pair.cluster, m, stable) {
            step.changes.push(Change::new(
                pair.name.to_string(),
                ctx.name.to_string(),
                None,
                Some(stable.to_string()),
                None,
            ));
            step.set
                .insert(pair.name.to_string(), Some(pointer.clone()));
            pair.current = Some(Cow::Owned(pointer));
        }
    }
}
