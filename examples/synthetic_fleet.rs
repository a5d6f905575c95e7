//! Writes a synthetic fleet repository (deterministic from a seed), its rendered tree as a
//! commit into a repository, or a health snapshot in which every pointer of a rendered tree is
//! healthy. Used by `bench/run` and `bench/reconcile`.
//!
//! ```text
//! cargo run --release --example synthetic_fleet -- --clusters 10000 --modules 20 --seed 1 --out DIR
//! cargo run --release --example synthetic_fleet -- commit --fleet DIR --repo REMOTE.git --date 2026-05-01T00:00:00Z
//! cargo run --release --example synthetic_fleet -- health --fleet DIR --current RENDERED --out health.yaml
//! cargo run --release --example synthetic_fleet -- health --fleet DIR --repo REMOTE.git --rev fleeet/rendered --out health.json
//! ```

// Shared with the benches, which use more of it.
#[allow(dead_code)]
#[path = "../benches/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use rayon::prelude::*;

use fleeet::git::{Identity, Repo};
use fleeet::layout::Files;
use fleeet::load::FleetFiles;
use fleeet::render::Renderer;
use fleeet::rollout::CurrentState;
use support::fleet::{Shape, generate};

#[derive(Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[arg(long, default_value_t = 1000)]
    clusters: usize,
    #[arg(long, default_value_t = 20)]
    modules: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Bump the patch version of this many modules (after the bootstrap module).
    #[arg(long, default_value_t = 0)]
    bump: usize,
    /// The directory to write the fleet repository to (new or empty).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Write a HealthSnapshot in which every pointer of a rendered tree is ready at the
    /// revision it pins.
    Health {
        /// The fleet repository.
        #[arg(long)]
        fleet: PathBuf,
        /// The rendered tree (a `fleeet render` or `fleeet plan --write` output).
        #[arg(long, required_unless_present = "repo")]
        current: Option<PathBuf>,
        /// A repository to read the rendered tree from instead, at `--rev`.
        #[arg(long, requires = "rev", conflicts_with = "current")]
        repo: Option<PathBuf>,
        /// The commit of `--repo` holding the rendered tree.
        #[arg(long)]
        rev: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Render a fleet in memory and write it as a commit with no parent into a repository (one
    /// pack, no work tree, no ref moved); prints the commit's id. What `render --out` and
    /// `git add` do, without 1.8 million files on disk at 100,000 clusters.
    Commit {
        /// The fleet repository.
        #[arg(long)]
        fleet: PathBuf,
        /// The repository to write into (bare or not).
        #[arg(long)]
        repo: PathBuf,
        /// The commit's author and committer time.
        #[arg(long)]
        date: jiff::Timestamp,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.command {
        Some(Command::Health {
            fleet,
            current,
            repo,
            rev,
            out,
        }) => {
            let tree = match (current, repo, rev) {
                (Some(dir), _, _) => Tree::Dir(dir),
                (None, Some(repo), Some(rev)) => Tree::Commit(repo, rev),
                _ => bail!("--current DIR or --repo REPO --rev REV is required"),
            };
            health(&fleet, &tree, &out)
        }
        Some(Command::Commit { fleet, repo, date }) => commit(&fleet, &repo, date),
        None => {
            let Some(out) = args.out else {
                bail!("--out DIR is required");
            };
            let shape = Shape {
                clusters: args.clusters,
                modules: args.modules,
                seed: args.seed,
                bump: args.bump,
            };
            write_fleet(&shape, &out)
        }
    }
}

fn write_fleet(shape: &Shape, out: &Path) -> anyhow::Result<()> {
    if out.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        bail!("{} is not empty", out.display());
    }
    let files = generate(shape);
    for folder in ["inventory", "clusters", "modules", "values"] {
        std::fs::create_dir_all(out.join(folder))?;
    }
    files.par_iter().try_for_each(|(path, text)| {
        let path = out.join(path);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    })?;
    eprintln!("wrote {} files into {}", files.len(), out.display());
    Ok(())
}

/// Where a rendered tree is: a folder, or a commit of a repository.
enum Tree {
    Dir(PathBuf),
    Commit(PathBuf, String),
}

fn commit(fleet: &Path, repo: &Path, date: jiff::Timestamp) -> anyhow::Result<()> {
    let fleet = fleeet::load::load(&FleetFiles::read_dir(fleet)?)?;
    let env = fleeet::template::sandbox();
    let renderer = Renderer::new(&fleet, &env)?;
    let rendered = renderer.render_all()?;
    let files = renderer.layout().files(&rendered);
    let repo = Repo::open(repo)?;
    let tree = repo.write_tree(&files)?;
    let identity = Identity {
        name: "bench".into(),
        email: "bench@example.com".into(),
        time: date,
    };
    let id = repo.commit(&[], tree, "converged\n", &identity)?;
    eprintln!("wrote {} files as commit {id}", files.len());
    println!("{id}");
    Ok(())
}

fn health(fleet: &Path, tree: &Tree, out: &Path) -> anyhow::Result<()> {
    let fleet = fleeet::load::load(&FleetFiles::read_dir(fleet)?)?;
    let env = fleeet::template::sandbox();
    let renderer = Renderer::new(&fleet, &env)?;
    let path = &fleet.spec.output.path.value;
    let files = match tree {
        Tree::Dir(dir) => read_tree(dir)?,
        Tree::Commit(dir, rev) => {
            let repo = Repo::open(dir)?;
            let Some(id) = repo.resolve(rev)? else {
                bail!("{rev}: no such commit in {}", dir.display());
            };
            repo.read_files(id, &Repo::managed_folders(path))?
        }
    };
    let state = CurrentState::from_files(files, path, &Default::default());
    let snapshot = support::scenario::healthy(&renderer, &state.branch);
    let text = snapshot.to_text_for(&out.to_string_lossy());
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))
}

/// Every file under `dir`, by `/`-separated relative path.
fn read_tree(dir: &Path) -> anyhow::Result<Files> {
    let mut files = Files::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(dir)?
            .to_string_lossy()
            .into_owned();
        files.insert(relative, std::fs::read_to_string(entry.path())?.into());
    }
    Ok(files)
}
