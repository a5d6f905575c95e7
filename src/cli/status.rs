//! `fleeet status`: the health of every module on every cluster, read through the Kubernetes
//! API.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use super::FleetArg;
use crate::Error;
use crate::health::collect::collect_blocking;
use crate::health::{HealthSnapshot, ModuleHealth};
use crate::kubernetes::Target;
use crate::load::FleetFiles;

/// Which management cluster to talk to.
#[derive(Debug, Args)]
pub struct KubeArgs {
    /// The kubeconfig of the management cluster (default: KUBECONFIG, ~/.kube/config, or the
    /// in-cluster service account).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

impl KubeArgs {
    /// Where the management cluster is.
    pub fn target(&self) -> Target {
        Target {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub fleet: FleetArg,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Also write the health snapshot to FILE (YAML), for `fleeet plan --health FILE`.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: StatusFormat,
}

/// How `fleeet status` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// Clusters × modules, and a summary line.
    #[default]
    Table,
    /// The health snapshot as JSON.
    Json,
}

pub fn status(args: StatusArgs) -> anyhow::Result<()> {
    let files = FleetFiles::read_dir(&args.fleet.fleet)?;
    let fleet = crate::load::load(&files).map_err(Error::from)?;
    let bar = progress_bar(fleet.clusters.len() as u64);
    let snapshot = collect_blocking(&fleet, &args.kube.target(), &mut |cluster| {
        bar.set_message(cluster.to_string());
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    if let Some(path) = &args.save {
        crate::write::write_file(path, snapshot.to_yaml().as_bytes())?;
        eprintln!("saved the health snapshot to {}", path.display());
    }
    let modules = fleet.modules.iter().map(|m| m.name.clone()).collect();
    match args.format {
        StatusFormat::Json => println!("{}", serde_json::to_string_pretty(&snapshot)?),
        StatusFormat::Table => print!("{}", table(&snapshot, modules)),
    }
    Ok(())
}

/// A progress bar on stderr when it is a terminal and not in CI; hidden otherwise.
pub fn progress_bar(length: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() || std::env::var_os("CI").is_some() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(length);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} clusters {wide_msg}") {
        bar.set_style(style);
    }
    bar
}

/// The reasons of a `Ready=False` condition that Flux gives for a failure (others are waiting).
const FAILURE_REASONS: [&str; 8] = [
    "ArtifactFailed",
    "BuildFailed",
    "HealthCheckFailed",
    "PruneFailed",
    "ReconciliationFailed",
    "InstallFailed",
    "UpgradeFailed",
    "TestFailed",
];

/// One word for a module's state.
fn state(health: &ModuleHealth) -> &'static str {
    let stale =
        matches!((health.generation, health.observed_generation), (Some(g), Some(o)) if o < g);
    let reason = health.reason.as_deref().unwrap_or_default();
    if health.stalled {
        "stalled"
    } else if health.ready {
        "ready"
    } else if !stale && FAILURE_REASONS.contains(&reason) {
        "failed"
    } else if reason == "DependencyNotReady" {
        "waiting"
    } else {
        "progressing"
    }
}

/// The cell of a module: its state and the version part of its revision.
fn cell(health: &ModuleHealth) -> String {
    match health.revision.as_deref() {
        Some(revision) => {
            let version = revision.split_once('@').map_or(revision, |(v, _)| v);
            format!("{} {version}", state(health))
        }
        None => state(health).to_string(),
    }
}

/// Clusters × modules (the fleet's `modules` and any other found), the errors of unreachable
/// clusters, and a summary line.
pub fn table(snapshot: &HealthSnapshot, mut modules: BTreeSet<String>) -> String {
    for cluster in snapshot.clusters.values() {
        modules.extend(cluster.modules.keys().cloned());
    }
    let mut rows: Vec<Vec<String>> = vec![
        std::iter::once("CLUSTER".to_string())
            .chain(modules.iter().cloned())
            .collect(),
    ];
    let mut errors = Vec::new();
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for (name, cluster) in &snapshot.clusters {
        let mut row = vec![name.clone()];
        for module in &modules {
            row.push(match cluster.modules.get(module) {
                _ if !cluster.reachable => "unknown".to_string(),
                Some(health) => {
                    *counts.entry(state(health)).or_default() += 1;
                    cell(health)
                }
                None => "-".to_string(),
            });
        }
        rows.push(row);
        if let Some(error) = &cluster.error {
            errors.push(format!("{name}: {error}"));
        }
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if !errors.is_empty() {
        out.push_str("\nunreachable:\n");
        for error in &errors {
            out.push_str(&format!("  {error}\n"));
        }
    }
    let unreachable = errors.len();
    let pairs: usize = counts.values().sum();
    let states: Vec<String> = ["ready", "progressing", "waiting", "failed", "stalled"]
        .iter()
        .filter_map(|s| Some(format!("{} {s}", counts.get(s).filter(|n| **n > 0)?)))
        .collect();
    out.push_str(&format!(
        "\n{} clusters ({} reachable, {unreachable} unreachable); {pairs} modules{}{}\n",
        snapshot.clusters.len(),
        snapshot.clusters.len() - unreachable,
        if states.is_empty() { "" } else { ": " },
        states.join(", ")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::ClusterHealth;

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
        let text = table(&snapshot, BTreeSet::from(["cert-manager".to_string()]));
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
    fn states_follow_flux_conditions() {
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
