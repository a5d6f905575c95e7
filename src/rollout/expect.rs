//! What the rendered branch holds if its rollout records are right: the pairs of the waves
//! applied at the version rolled out, those of the waves to come at the version the rollout
//! started from, and those a rollback restored as they were before. Mid-rollout most pairs
//! differ from the desired render, but not from this: the branch is read against it (see
//! `Repo::current_state`), and only what differs is read.

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;

use super::RolloutRecord;
use crate::render::{Pointer, Pointers, Rendered, Renderer};

/// Versions of modules a sample of the rendered branch holds, by module: what the pairs no
/// record names are taken to hold (see `Repo::current_state`).
pub type Sampled = BTreeMap<String, String>;

/// What a record says a pair holds.
enum Held<'r> {
    /// The module at this version (none: no pointer).
    Version(Option<&'r str>),
    /// This pointer, as saved before the rollout (none: no pointer).
    Saved(Option<Pointer>),
}

/// The desired render with every pair a record names as the record says it is, and the
/// other pairs of the modules `sampled` at the version seen. A pair that cannot be rendered at
/// its version (a module gone from the fleet) is left as desired.
pub fn expected_branch(
    renderer: &Renderer<'_>,
    desired: &Rendered,
    records: &BTreeMap<String, RolloutRecord>,
    sampled: &Sampled,
) -> Rendered {
    let mut held = held(records);
    for (module, version) in sampled.iter().filter(|(m, _)| !records.contains_key(*m)) {
        let on = desired
            .clusters
            .iter()
            .filter(|(_, p)| p.contains_key(module.as_str()));
        for (cluster, _) in on {
            let pairs = held.entry(cluster).or_default();
            pairs.push((module, Held::Version(Some(version))));
        }
    }
    let fleet = renderer.fleet;
    let changed: Vec<(String, Arc<Pointers>)> = held
        .into_par_iter()
        .filter_map(|(cluster, pairs)| {
            let c = fleet.cluster_index(cluster)?;
            let mut pointers = Pointers::clone(desired.clusters.get(cluster)?);
            let mut render = Vec::new();
            for (module, held) in pairs {
                let same = |v: &str| pointers.get(module).is_some_and(|p| p.version == v);
                match held {
                    Held::Version(Some(version)) if same(version) => {}
                    Held::Version(Some(version)) => {
                        if let Some(m) = fleet.module_index(module) {
                            render.push((module, m, version));
                        }
                    }
                    Held::Version(None) | Held::Saved(None) => {
                        pointers.remove(module);
                    }
                    Held::Saved(Some(pointer)) => {
                        pointers.insert(module.to_string(), pointer);
                    }
                }
            }
            let at: Vec<(usize, &str)> = render.iter().map(|&(_, m, v)| (m, v)).collect();
            for ((module, ..), pointer) in render.iter().zip(renderer.render_ids_at(c, &at)) {
                if let Ok(pointer) = pointer {
                    pointers.insert(module.to_string(), pointer);
                }
            }
            Some((cluster.to_string(), Arc::new(pointers)))
        })
        .collect();
    let mut expected = desired.clone();
    expected.clusters.extend(changed);
    expected
}

/// By cluster, what the records say each of their pairs there holds.
fn held(records: &BTreeMap<String, RolloutRecord>) -> BTreeMap<&str, Vec<(&str, Held<'_>)>> {
    let mut held: BTreeMap<&str, Vec<(&str, Held<'_>)>> = BTreeMap::new();
    for (module, record) in records {
        if record.rolled_back_at.is_some() {
            for (cluster, saved) in &record.before {
                let pointer = saved.as_ref().map(|s| s.pointer());
                held.entry(cluster)
                    .or_default()
                    .push((module, Held::Saved(pointer)));
            }
            continue;
        }
        for wave in &record.waves {
            let version = match wave.applied {
                true => record.to.as_deref(),
                false => record.from.as_deref(),
            };
            for cluster in &wave.clusters {
                held.entry(cluster)
                    .or_default()
                    .push((module, Held::Version(version)));
            }
        }
    }
    held
}
