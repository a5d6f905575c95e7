//! Writes a synthetic fleet repository (deterministic from a seed), or a health snapshot in
//! which every pointer of a rendered tree is healthy. Used by `bench/run`.
//!
//! ```text
//! cargo run --release --example synthetic_fleet -- --clusters 10000 --modules 20 --seed 1 --out DIR
//! cargo run --release --example synthetic_fleet -- health --fleet DIR --current RENDERED --out health.yaml
//! ```

// Shared with the benches, which use more of it.
#[allow(dead_code)]
#[path = "../benches/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use rayon::prelude::*;

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
        #[arg(long)]
        current: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.command {
        Some(Command::Health {
            fleet,
            current,
            out,
        }) => health(&fleet, &current, &out),
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

fn health(fleet: &Path, current: &Path, out: &Path) -> anyhow::Result<()> {
    let fleet = fleeet::load::load(&FleetFiles::read_dir(fleet)?)?;
    let env = fleeet::template::sandbox();
    let renderer = Renderer::new(&fleet, &env)?;
    let state = CurrentState::from_files(read_tree(current)?, &fleet.spec.output.path.value);
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
