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
    /// Starts reading the snapshot files, if any, on a thread of their own: they do not depend
    /// on the fleet, so they are read while it loads and renders (at 100,000 clusters a
    /// 200 MB snapshot takes seconds to read, on one CPU).
    pub fn start(&self) -> PendingHealth<'_> {
        let paths = self.health.clone();
        let files = (!paths.is_empty()).then(|| std::thread::spawn(move || read_files(&paths)));
        PendingHealth { args: self, files }
    }
}

/// Health being read: [`PendingHealth::finish`] it once the fleet is loaded.
pub struct PendingHealth<'a> {
    args: &'a HealthArgs,
    files: Option<std::thread::JoinHandle<Result<HealthSnapshot, Error>>>,
}

impl PendingHealth<'_> {
    /// The health snapshot, read and merged or collected through the management cluster; none
    /// when neither source is given.
    pub fn finish(self, fleet: &Fleet) -> Result<Option<HealthSnapshot>, Error> {
        if let Some(reading) = self.files {
            return match reading.join() {
                Ok(snapshot) => snapshot.map(Some),
                Err(panic) => std::panic::resume_unwind(panic),
            };
        }
        let Some(kubeconfig) = &self.args.kubeconfig else {
            return Ok(None);
        };
        let target = Target {
            kubeconfig: Some(kubeconfig.clone()),
            context: self.args.context.clone(),
        };
        collect_blocking(fleet, &target, Shard::WHOLE, &mut |_| {}).map(Some)
    }
}

/// The snapshot files at `paths` (see [`snapshot_files`]), read and merged.
fn read_files(paths: &[PathBuf]) -> Result<HealthSnapshot, Error> {
    let mut parts = Vec::new();
    for path in snapshot_files(paths)? {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let shown = path.display().to_string();
        let snapshot = HealthSnapshot::parse(&shown, &text)?;
        parts.push((shown, snapshot));
    }
    let (snapshot, notes) = crate::health::merge(parts)?;
    for note in notes {
        eprintln!("warning: {note}");
    }
    Ok(snapshot)
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
