//! The preview comment of a fleet pull request: the blast radius of the rollout it would start.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::{sample, version_change};
use crate::rollout::Plan;

/// Which modules change, to which versions, on how many clusters, in how many waves, and which
/// clusters go first.
pub fn preview_markdown(plan: &Plan) -> String {
    let mut out = String::from("### fleeet preview\n\n");
    let mut clusters = BTreeSet::new();
    let mut rows = Vec::new();
    let mut pairs = 0;
    for m in &plan.modules {
        let immediate: Vec<&str> = plan
            .changes
            .iter()
            .filter(|c| c.module == m.module && c.wave.is_none())
            .map(|c| c.cluster.as_str())
            .collect();
        let waiting: Vec<&String> = m
            .waves
            .iter()
            .filter(|w| w.pending > 0)
            .flat_map(|w| &w.clusters)
            .collect();
        let count = m.waves.iter().map(|w| w.pending).sum::<usize>() + immediate.len();
        if count == 0 {
            continue;
        }
        pairs += count;
        clusters.extend(immediate.iter().map(|c| c.to_string()));
        clusters.extend(waiting.iter().map(|c| c.to_string()));
        let waves = m.waves.iter().filter(|w| w.pending > 0).count();
        let first = m.waves.iter().find(|w| w.pending > 0).map_or_else(
            || "at once".to_string(),
            |w| format!("{}: {}", w.name, sample(&w.clusters, 5)),
        );
        rows.push(format!(
            "| `{}` | {} | {count} | {waves} | {first} |",
            m.module,
            version_change(m.from.as_deref(), m.to.as_deref())
        ));
    }
    if rows.is_empty() {
        out.push_str("This pull request changes nothing on any cluster.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "Merging this pull request starts rolling out **{} module(s)** to **{} cluster(s)** ({pairs} pointer change(s)).\n",
        rows.len(),
        clusters.len()
    );
    let _ = writeln!(
        out,
        "| Module | Version | Clusters | Waves | Goes first |\n| --- | --- | ---: | ---: | --- |"
    );
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
    if !plan.removed_clusters.is_empty() {
        let _ = writeln!(
            out,
            "\nClusters gone from the fleet, removed at once: {}",
            sample(&plan.removed_clusters, 10)
        );
    }
    for m in plan
        .modules
        .iter()
        .filter(|m| !m.deferred.is_empty() || !m.problems.is_empty())
    {
        let _ = writeln!(out, "\n> `{}`: {}", m.module, m.reason);
    }
    out
}
