//! A module's pairs (one per cluster it is or was on), and the rule for clusters that newly
//! match it: they get the version most clusters run now, at once.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::iter::Peekable;

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

/// Where one pair of a module is: its cluster (by index in the fleet), and the pair's
/// position among that cluster's desired and current pointers.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    cluster: u32,
    desired: Option<u32>,
    current: Option<u32>,
}

/// For each module of `names` (sorted), where its pairs are: found in one pass over the
/// clusters, each cluster's pointers walked in order beside the names. Looking every module up
/// on every cluster instead was half of a 100,000-cluster plan.
pub fn slots(by_cluster: &ByCluster<'_>, names: &[&str]) -> Vec<Vec<Slot>> {
    let mut slots = vec![Vec::new(); names.len()];
    for (c, (desired, current)) in by_cluster.iter().enumerate() {
        let (mut desired, mut current) = (keys(*desired), keys(*current));
        let mut k = 0;
        loop {
            let name = match (desired.peek(), current.peek()) {
                (None, None) => break,
                (Some(&(_, d)), None) => d,
                (None, Some(&(_, c))) => c,
                (Some(&(_, d)), Some(&(_, c))) => d.min(c),
            };
            let (in_desired, in_current) = (take(&mut desired, name), take(&mut current, name));
            while k < names.len() && names[k] < name {
                k += 1;
            }
            if names.get(k) == Some(&name) {
                slots[k].push(Slot {
                    cluster: c as u32,
                    desired: in_desired,
                    current: in_current,
                });
            }
        }
    }
    slots
}

/// The module names of `pointers` in order, with their positions.
fn keys(pointers: Option<&Modules>) -> Peekable<impl Iterator<Item = (usize, &str)>> {
    let names = pointers.into_iter().flat_map(|p| p.keys());
    names.map(String::as_str).enumerate().peekable()
}

/// The position of the next of `keys` if it is `name`, taken.
fn take<'k>(
    keys: &mut Peekable<impl Iterator<Item = (usize, &'k str)>>,
    name: &str,
) -> Option<u32> {
    keys.next_if(|&(_, n)| n == name).map(|(i, _)| i as u32)
}

/// The pairs of module `name` at `slots`: every cluster where it is desired or currently is.
pub fn collect<'a>(
    ctx: &Context<'_, 'a>,
    by_cluster: &ByCluster<'a>,
    slots: &[Slot],
) -> Vec<Pair<'a>> {
    let clusters = &ctx.inputs.renderer.fleet.clusters;
    let at = |pointers: Option<&'a Modules>, i: Option<u32>| {
        let (_, pointer) = pointers?.get_indexed(i? as usize)?;
        Some(pointer)
    };
    slots
        .iter()
        .map(|slot| {
            let c = slot.cluster as usize;
            let (desired, current) = by_cluster[c];
            Pair {
                cluster: c,
                name: &clusters[c].name,
                desired: at(desired, slot.desired),
                current: at(current, slot.current).map(Cow::Borrowed),
            }
        })
        .collect()
}

/// A module's pairs by cluster name.
pub type ByName<'p> = HashMap<&'p str, &'p Pair<'p>>;

/// The names of the pairs still differing from the desired state.
pub fn pending<'a>(pairs: &[Pair<'a>]) -> HashSet<&'a str> {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::render::Pointer;

    fn pointers(names: &[&str]) -> Modules {
        let pointer = Pointer {
            version: "1".into(),
            revision: String::new(),
            main: "x".into(),
            release: None,
            applied_from: None,
        };
        names
            .iter()
            .map(|n| (n.to_string(), pointer.clone()))
            .collect()
    }

    proptest! {
        #[test]
        fn slots_are_where_lookups_find_each_module(
            clusters in prop::collection::vec(
                (
                    prop::option::of(prop::sample::subsequence(vec!["a", "a-b", "b", "c"], 0..4)),
                    prop::option::of(prop::sample::subsequence(vec!["a", "b", "b0", "c"], 0..4)),
                ),
                0..6,
            ),
            names in prop::sample::subsequence(vec!["a", "a-b", "b", "b0", "c"], 0..5),
        ) {
            let maps: Vec<(Option<Modules>, Option<Modules>)> = clusters
                .iter()
                .map(|(d, c)| (d.as_deref().map(pointers), c.as_deref().map(pointers)))
                .collect();
            let by_cluster: Vec<_> = maps.iter().map(|(d, c)| (d.as_ref(), c.as_ref())).collect();
            let found = slots(&by_cluster, &names);
            for (k, name) in names.iter().enumerate() {
                let position = |p: Option<&Modules>| {
                    p.and_then(|p| p.keys().position(|m| m == name)).map(|i| i as u32)
                };
                let expected: Vec<(u32, Option<u32>, Option<u32>)> = by_cluster
                    .iter()
                    .enumerate()
                    .map(|(c, (d, cur))| (c as u32, position(*d), position(*cur)))
                    .filter(|(_, d, c)| d.is_some() || c.is_some())
                    .collect();
                let got: Vec<_> = found[k].iter().map(|s| (s.cluster, s.desired, s.current)).collect();
                prop_assert_eq!(got, expected, "{}", name);
            }
        }
    }
}
