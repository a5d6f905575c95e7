//! `fleeet status`: the health of every module on every cluster, read through the Kubernetes
//! API.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use super::FleetArg;
use crate::git::Repo;
use crate::health::Shard;
use crate::health::collect::collect_blocking;
use crate::kubernetes::Target;
use crate::load::FleetFiles;
use crate::{Error, layout, report};

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
    /// Judge each module against the revision the rendered branch pins for its cluster at this
    /// git ref (like `origin/fleeet/rendered`): healthy, progressing, failed or unknown.
    #[arg(long, value_name = "REF")]
    pub current: Option<String>,
    /// The git repository holding --current (default: the one holding the fleet).
    #[arg(long, value_name = "DIR", requires = "current")]
    pub repo: Option<PathBuf>,
    /// Also write the health snapshot to FILE, for `fleeet plan --health FILE`: JSON when FILE
    /// ends in .json (faster to read for a large fleet), else YAML.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Read only shard K of N: the clusters whose name hashes to K (every cluster is in exactly
    /// one shard), for collecting health across a CI job matrix. Pass the saved files of all N
    /// shards to `--health` (a folder of them works).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
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
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let in_shard = fleet.clusters.iter().filter(|c| shard.contains(&c.name));
    let bar = progress_bar(in_shard.count() as u64);
    let snapshot = collect_blocking(&fleet, &args.kube.target(), shard, &mut |cluster| {
        bar.set_message(cluster.to_string());
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    if let Some(path) = &args.save {
        let text = snapshot.to_text_for(&path.to_string_lossy());
        crate::write::write_file(path, text.as_bytes())?;
        eprintln!("saved the health snapshot to {}", path.display());
    }
    let modules = fleet.modules.iter().map(|m| m.name.clone()).collect();
    let pinned = match &args.current {
        Some(rev) => {
            let repo = Repo::open(args.repo.as_deref().unwrap_or(&args.fleet.fleet))?;
            let tip = repo.resolve(rev)?;
            let path = &fleet.spec.output.path.value;
            let state =
                repo.current_state(tip, layout::Layout::plain(path), |_, _| Default::default())?;
            Some(layout::pinned_revisions(&state.branch))
        }
        None => None,
    };
    match args.format {
        StatusFormat::Json => println!("{}", serde_json::to_string_pretty(&snapshot)?),
        StatusFormat::Table => print!(
            "{}",
            report::status_table(&snapshot, modules, pinned.as_ref())
        ),
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
