//! `fleeet plan`: the next rollout step, shown or written.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use jiff::Timestamp;
use rayon::prelude::*;

use super::commands::load;
use crate::health::HealthSnapshot;
use crate::layout::{self, Files};
use crate::render::Renderer;
use crate::rollout::{self, CurrentState, Inputs};
use crate::{Error, report, template, write};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub fleet: super::FleetArg,
    /// The current state: a directory holding a checkout or render of the rendered branch.
    /// Missing or empty means nothing is rendered yet.
    #[arg(long, value_name = "DIR")]
    pub current_dir: Option<PathBuf>,
    /// A health snapshot (written by `fleeet status --save`, or by hand).
    #[arg(long, value_name = "FILE")]
    pub health: Option<PathBuf>,
    /// The time to plan at (RFC 3339), instead of now: for reviews and tests.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<Timestamp>,
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// Write the rendered branch after this step into this directory (atomically).
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

/// How a plan is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// An aligned table, coloured on a terminal.
    #[default]
    Table,
    /// A pull-request body, with a mermaid diagram of the waves.
    Markdown,
    /// One JSON document.
    Json,
}

pub fn plan(args: PlanArgs) -> anyhow::Result<()> {
    let fleet = load(&args.fleet.fleet)?;
    let env = template::sandbox();
    let renderer = Renderer::new(&fleet, &env).map_err(Error::from)?;
    let desired = renderer.render_all().map_err(Error::from)?;
    let path = fleet.spec.output.path.value.clone();
    let current = match &args.current_dir {
        Some(dir) => CurrentState::from_files(&read_tree(dir)?, &path),
        None => CurrentState::default(),
    };
    let health = match &args.health {
        Some(file) => Some(read_health(file)?),
        None => None,
    };
    let plan = rollout::plan(&Inputs {
        renderer: &renderer,
        desired: &desired,
        current: &current,
        health: health.as_ref(),
        now: args.now.unwrap_or_else(Timestamp::now),
    });
    match args.format {
        PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        PlanFormat::Markdown => print!("{}", report::plan_markdown(&plan)),
        PlanFormat::Table => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            print!("{}", report::plan_table(&plan, color));
        }
    }
    if let Some(out) = &args.write {
        let summary = write::write_dir(out, &layout::branch_files(&plan.next, &path))?;
        eprintln!(
            "wrote the next state into {} ({} files written, {} unchanged, {} removed)",
            out.display(),
            summary.written,
            summary.unchanged,
            summary.removed
        );
    }
    Ok(())
}

/// Every file under `dir` (none if it does not exist), by `/`-separated relative path, leaving
/// out `.git`. The tree is walked one folder per task and files are read in parallel.
pub fn read_tree(dir: &std::path::Path) -> Result<Files, Error> {
    if !dir.exists() {
        return Ok(Files::new());
    }
    let top: Vec<walkdir::DirEntry> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .max_depth(1)
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| Error::io(dir, e.into()))?;
    let files: Vec<Vec<(String, std::sync::Arc<str>)>> = top
        .par_iter()
        .filter(|entry| entry.file_name() != ".git")
        .map(|entry| {
            walkdir::WalkDir::new(entry.path())
                .into_iter()
                .filter_entry(|entry| entry.file_name() != ".git")
                .par_bridge()
                .filter_map(|entry| match entry {
                    Ok(entry) if entry.file_type().is_file() => Some(read_file(dir, &entry)),
                    Ok(_) => None,
                    Err(e) => Some(Err(Error::io(dir, e.into()))),
                })
                .collect::<Result<Vec<_>, Error>>()
        })
        .collect::<Result<_, Error>>()?;
    Ok(files.into_iter().flatten().collect())
}

fn read_file(
    dir: &std::path::Path,
    entry: &walkdir::DirEntry,
) -> Result<(String, std::sync::Arc<str>), Error> {
    let relative = entry
        .path()
        .strip_prefix(dir)
        .unwrap_or(entry.path())
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    let text = std::fs::read_to_string(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
    Ok((relative, text.into()))
}

fn read_health(file: &std::path::Path) -> Result<HealthSnapshot, Error> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    Ok(HealthSnapshot::parse(&file.display().to_string(), &text)?)
}
