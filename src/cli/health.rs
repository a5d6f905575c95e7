//! `--health`: where health comes from, for `plan`, `explain` and `reconcile`.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::Error;
use crate::health::collect::collect_blocking;
use crate::health::{HealthSnapshot, Shard};
use crate::kubernetes::Target;
use crate::model::Fleet;

/// Where health comes from: snapshot files, or the clusters through the management cluster.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// A health snapshot (written by `fleeet status --save`, or by hand), or a folder of them
    /// (one per shard): its .json, .yaml and .yml files. Repeat for more; the snapshots are
    /// merged, and a cluster in none of them is unknown.
    #[arg(long, value_name = "FILE|DIR", conflicts_with = "kubeconfig")]
    pub health: Vec<PathBuf>,
    /// Collect health from the clusters through the management cluster at this kubeconfig
    /// (each cluster's kubeconfig comes from its Cluster API secret).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The context of --kubeconfig to use (default: its current context).
    #[arg(long, value_name = "NAME", requires = "kubeconfig")]
    pub context: Option<String>,
}

impl HealthArgs {
    /// The health snapshot, read and merged or collected; none when neither source is given.
    pub fn snapshot(&self, fleet: &Fleet) -> Result<Option<HealthSnapshot>, Error> {
        if !self.health.is_empty() {
            let mut parts = Vec::new();
            for path in snapshot_files(&self.health)? {
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                let shown = path.display().to_string();
                let snapshot = HealthSnapshot::parse(&shown, &text)?;
                parts.push((shown, snapshot));
            }
            let (snapshot, notes) = crate::health::merge(parts)?;
            for note in notes {
                eprintln!("warning: {note}");
            }
            return Ok(Some(snapshot));
        }
        if self.kubeconfig.is_none() {
            return Ok(None);
        }
        let target = Target {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        };
        collect_blocking(fleet, &target, Shard::WHOLE, &mut |_| {}).map(Some)
    }
}

/// The snapshot files `paths` name: each file, and the `.json`, `.yaml` and `.yml` files
/// directly in each folder, in name order.
fn snapshot_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .map(|entry| entry.map(|e| e.path()).map_err(|e| Error::io(path, e)))
            .collect::<Result<_, _>>()?;
        found.retain(|file| file.is_file() && is_snapshot_file(file));
        found.sort();
        if found.is_empty() {
            return Err(Error::usage(
                format!("{} holds no health snapshot files", path.display()),
                "a snapshot folder holds the .json (or .yaml) files of `fleeet status --save`",
            ));
        }
        files.extend(found);
    }
    Ok(files)
}

fn is_snapshot_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| {
        ["json", "yaml", "yml"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}
