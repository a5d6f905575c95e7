//! `fleeet status` as a table: clusters × modules.

use std::collections::{BTreeMap, BTreeSet};

use crate::health::kstatus::{self, Status};
use crate::health::{ClusterHealth, HealthSnapshot, ModuleHealth};

/// The revision the rendered branch pins, by (cluster, module).
pub type Pinned = BTreeMap<(String, String), String>;

/// A module judged against the revision its pointer pins: the word and the cell.
fn judged(cluster: &ClusterHealth, module: &str, revision: &str) -> (&'static str, String) {
    match kstatus::status(Some(cluster), module, revision) {
        Status::Healthy { .. } => ("healthy", format!("healthy {revision}")),
        Status::Progressing { .. } => ("progressing", format!("progressing → {revision}")),
        Status::Failed { reason, .. } => ("failed", format!("failed {reason}")),
        Status::Unknown { .. } => ("unknown", "unknown".to_string()),
    }
}

/// The cell of a module: its state and the version part of its revision.
fn cell(health: &ModuleHealth) -> String {
    match health.revision.as_deref() {
        Some(revision) => {
            let version = revision.split_once('@').map_or(revision, |(v, _)| v);
            format!("{} {version}", kstatus::word(health))
        }
        None => kstatus::word(health).to_string(),
    }
}

/// Clusters × modules (the fleet's `modules` and any other found), the errors of unreachable
/// clusters, and a summary line.
pub fn status_table(
    snapshot: &HealthSnapshot,
    mut modules: BTreeSet<String>,
    pinned: Option<&Pinned>,
) -> String {
    for cluster in snapshot.clusters.values() {
        modules.extend(cluster.modules.keys().map(|m| m.to_string()));
    }
    let mut rows: Vec<Vec<String>> = vec![
        std::iter::once("CLUSTER".to_string())
            .chain(modules.iter().cloned())
            .collect(),
    ];
    let mut errors = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, cluster) in &snapshot.clusters {
        let mut row = vec![name.clone()];
        for module in &modules {
            row.push(match cluster.modules.get(module.as_str()) {
                _ if !cluster.reachable => "unknown".to_string(),
                Some(health) => {
                    let (word, text) =
                        match pinned.and_then(|p| p.get(&(name.clone(), module.clone()))) {
                            Some(revision) => judged(cluster, module, revision),
                            None => (kstatus::word(health), cell(health)),
                        };
                    *counts.entry(word).or_default() += 1;
                    text
                }
                None => "-".to_string(),
            });
        }
        rows.push(row);
        if let Some(error) = &cluster.error {
            errors.push(format!("{name}: {error}"));
        }
    }
    let mut out = aligned(&rows);
    bootstrap_lines(&mut out, snapshot, pinned);
    if !errors.is_empty() {
        out.push_str("\nunreachable:\n");
        for error in &errors {
            out.push_str(&format!("  {error}\n"));
        }
    }
    out.push_str(&totals(snapshot, errors.len(), &counts));
    out
}

/// `rows` in columns as wide as their widest cell.
fn aligned(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A line per cluster the management cluster bootstraps: its bootstrap modules' health.
fn bootstrap_lines(out: &mut String, snapshot: &HealthSnapshot, pinned: Option<&Pinned>) {
    if snapshot.bootstrap.is_empty() {
        return;
    }
    out.push_str("\nbootstrap modules, as the management cluster applies them:\n");
    for (name, view) in &snapshot.bootstrap {
        let cells: Vec<String> = match view.error.as_deref() {
            Some(error) => vec![format!("unknown ({error})")],
            None => view
                .modules
                .iter()
                .map(|(module, health)| {
                    match pinned.and_then(|p| p.get(&(name.clone(), module.to_string()))) {
                        Some(revision) => format!("{module} {}", judged(view, module, revision).1),
                        None => format!("{module} {}", cell(health)),
                    }
                })
                .collect(),
        };
        let cells = if cells.is_empty() {
            vec!["-".to_string()]
        } else {
            cells
        };
        out.push_str(&format!("  {name}: {}\n", cells.join(", ")));
    }
}

/// The last line: clusters reachable or not, and how many modules are in each state.
fn totals(snapshot: &HealthSnapshot, unreachable: usize, counts: &BTreeMap<&str, usize>) -> String {
    let pairs: usize = counts.values().sum();
    let states: Vec<String> = [
        "healthy",
        "ready",
        "progressing",
        "waiting",
        "failed",
        "stalled",
        "unknown",
    ]
    .iter()
    .filter_map(|s| Some(format!("{} {s}", counts.get(s).filter(|n| **n > 0)?)))
    .collect();
    format!(
        "\n{} clusters ({} reachable, {unreachable} unreachable); {pairs} modules{}{}\n",
        snapshot.clusters.len(),
        snapshot.clusters.len() - unreachable,
        if states.is_empty() { "" } else { ": " },
        states.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_modules_show_as_the_management_cluster_sees_them() {
        let mut snapshot = HealthSnapshot::new("2026-11-21T10:00:00Z".parse().unwrap());
        snapshot.bootstrap.insert(
            "w1".into(),
            ClusterHealth {
                reachable: true,
                error: None,
                modules: [(
                    "flux".into(),
                    module(true, "ReconciliationSucceeded", Some("v2.7.0@sha1:1")),
                )]
                .into_iter()
                .collect(),
            },
        );
        let pinned: Pinned =
            [(("w1".to_string(), "flux".to_string()), "v2.7.0".to_string())].into();
        let table = status_table(&snapshot, BTreeSet::new(), Some(&pinned));
        assert!(
            table.contains("bootstrap modules, as the management cluster applies them:\n  w1: flux healthy v2.7.0\n"),
            "{table}"
        );
    }

    fn module(ready: bool, reason: &str, revision: Option<&str>) -> ModuleHealth {
        ModuleHealth {
            ready,
            reason: Some(reason.into()),
            revision: revision.map(Into::into),
            generation: Some(2),
            observed_generation: Some(2),
            ..ModuleHealth::default()
        }
    }

    #[test]
    fn shows_clusters_by_modules_and_sums_up() {
        let mut snapshot = HealthSnapshot::new("2026-11-21T10:00:00Z".parse().unwrap());
        let mut alpha = ClusterHealth {
            reachable: true,
            ..ClusterHealth::default()
        };
        alpha.modules.insert(
            "ingress".into(),
            module(true, "ReconciliationSucceeded", Some("v1.4.2@sha1:0a1b")),
        );
        alpha.modules.insert(
            "monitoring".into(),
            module(false, "UpgradeFailed", Some("61.3.0")),
        );
        snapshot.clusters.insert("alpha".into(), alpha);
        snapshot.clusters.insert(
            "beta".into(),
            ClusterHealth {
                reachable: false,
                error: Some("forbidden: no".into()),
                ..ClusterHealth::default()
            },
        );
        let text = status_table(
            &snapshot,
            BTreeSet::from(["cert-manager".to_string()]),
            None,
        );
        assert_eq!(
            text,
            "\
CLUSTER  cert-manager  ingress       monitoring
alpha    -             ready v1.4.2  failed 61.3.0
beta     unknown       unknown       unknown

unreachable:
  beta: forbidden: no

2 clusters (1 reachable, 1 unreachable); 2 modules: 1 ready, 1 failed
"
        );
    }

    #[test]
    fn judged_against_the_pinned_revision() {
        let mut snapshot = HealthSnapshot::new("2026-11-21T10:00:00Z".parse().unwrap());
        let mut alpha = ClusterHealth {
            reachable: true,
            ..ClusterHealth::default()
        };
        alpha.modules.insert(
            "ingress".into(),
            module(true, "ReconciliationSucceeded", Some("v1.4.2@sha1:0a1b")),
        );
        alpha.modules.insert(
            "web".into(),
            module(true, "ReconciliationSucceeded", Some("1.0")),
        );
        snapshot.clusters.insert("alpha".into(), alpha);
        let pinned = Pinned::from([
            (("alpha".into(), "ingress".into()), "v1.4.2".into()),
            (("alpha".into(), "web".into()), "2.0".into()),
        ]);
        let text = status_table(&snapshot, BTreeSet::new(), Some(&pinned));
        assert!(
            text.contains("alpha    healthy v1.4.2  progressing → 2.0"),
            "{text}"
        );
        assert!(
            text.ends_with("2 modules: 1 healthy, 1 progressing\n"),
            "{text}"
        );
    }

    #[test]
    fn states_follow_flux_conditions() {
        use kstatus::word as state;
        assert_eq!(state(&module(false, "Progressing", None)), "progressing");
        assert_eq!(state(&module(false, "DependencyNotReady", None)), "waiting");
        assert_eq!(state(&module(false, "HealthCheckFailed", None)), "failed");
        let stale = ModuleHealth {
            generation: Some(3),
            ..module(false, "HealthCheckFailed", None)
        };
        assert_eq!(state(&stale), "progressing");
        let stalled = ModuleHealth {
            stalled: true,
            ..module(false, "BuildFailed", None)
        };
        assert_eq!(state(&stalled), "stalled");
    }
}
