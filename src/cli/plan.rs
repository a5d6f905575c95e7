//! `fleeet plan`: the next rollout step, shown or written.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use jiff::Timestamp;
use rayon::prelude::*;

use super::commands::load;
use super::health::{HealthArgs, PendingHealth};
use crate::free::FreeLater;
use crate::git::Repo;
use crate::layout::Files;
use crate::render::{Rendered, Renderer};
use crate::rollout::{self, CurrentState, Inputs};
use crate::timing::stage;
use crate::{Error, report, template, write};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub fleet: super::FleetArg,
    #[command(flatten)]
    pub state: StateArgs,
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

/// Where the current state and health come from: the arguments shared by `plan` and
/// `explain`.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// The current state: the rendered branch at this git ref (branch, remote branch or commit)
    /// in --repo. Default: `origin/<output.branch.value>`, else `<output.branch.value>`, in the fleet's
    /// repository. A missing ref means nothing is rendered yet.
    #[arg(long, value_name = "REF", conflicts_with = "current_dir")]
    pub current: Option<String>,
    /// The git repository holding --current (default: the one holding the fleet).
    #[arg(long, value_name = "DIR", requires = "current")]
    pub repo: Option<PathBuf>,
    /// The current state as a directory (a checkout or render of the rendered branch), without
    /// history: progress deadlines are not judged. Missing or empty means nothing is rendered.
    #[arg(long, value_name = "DIR")]
    pub current_dir: Option<PathBuf>,
    #[command(flatten)]
    pub health: HealthArgs,
    /// The time to plan at (RFC 3339), instead of now: for reviews and tests.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<Timestamp>,
}

/// Plans the next step of `renderer`'s fleet (read from `fleet_dir`) against the state the
/// arguments name.
pub fn plan_step(
    renderer: &Renderer<'_>,
    fleet_dir: &Path,
    state: &StateArgs,
    health: PendingHealth<'_>,
) -> anyhow::Result<rollout::Plan> {
    // Freed on threads of their own when the plan is made: see `free`.
    let desired = FreeLater::new(stage("render", || renderer.render_ids()).map_err(Error::from)?);
    let output = &renderer.fleet.spec.output;
    let path = &output.path.value;
    let mut notes = Vec::new();
    // What the branch holds if its rollout records are right: what matches is not read.
    let expected =
        |records: &_, sampled: &_| rollout::expected_branch(renderer, &desired, records, sampled);
    let current = FreeLater::new(match (&state.current_dir, &state.current) {
        (Some(dir), _) => CurrentState::from_files(read_tree(dir)?, path, &desired),
        (None, Some(rev)) => {
            let repo = FreeLater::new(Repo::open(state.repo.as_deref().unwrap_or(fleet_dir))?);
            let tip = repo.resolve(rev)?;
            if tip.is_none() {
                notes.push(format!("{rev} does not exist: nothing is rendered yet"));
            }
            repo.current_state(tip, renderer.layout(), expected)?
        }
        (None, None) => match Repo::open(fleet_dir).map(FreeLater::new) {
            Ok(repo) => {
                let remote = format!("origin/{}", output.branch.value);
                let tip = match repo.resolve(&remote)? {
                    Some(tip) => Some(tip),
                    None => repo.resolve(&output.branch.value)?,
                };
                if tip.is_none() {
                    notes.push(format!(
                        "neither {remote} nor {} exists: nothing is rendered yet",
                        output.branch.value
                    ));
                }
                repo.current_state(tip, renderer.layout(), expected)?
            }
            Err(_) => CurrentState::default(),
        },
    });
    let health = stage("health", || health.finish(renderer.fleet))?;
    let mut plan = stage("plan", || {
        rollout::plan(&Inputs {
            renderer,
            desired: &desired,
            current: &current,
            health: health.as_ref(),
            now: state.now.unwrap_or_else(Timestamp::now),
        })
    });
    plan.changed |= renderer.layout().syncs_changed(&plan.next, &current.branch);
    plan.notes.splice(0..0, notes);
    Ok(plan)
}

pub fn plan(args: PlanArgs) -> anyhow::Result<()> {
    let health = args.state.health.start();
    let fleet = stage("load", || load(&args.fleet.fleet))?;
    let env = template::sandbox();
    let renderer = Renderer::new(&fleet, &env).map_err(Error::from)?;
    let mut plan = plan_step(&renderer, &args.fleet.fleet, &args.state, health)?;
    match args.format {
        PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        PlanFormat::Markdown => print!("{}", report::plan_markdown(&plan)),
        PlanFormat::Table => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            print!("{}", report::plan_table(&plan, color));
        }
    }
    if let Some(out) = &args.write {
        // Every file is written: the plan holds many by their ids alone.
        renderer.restore_texts(&mut plan.next.pointers, &Rendered::default());
        let summary = write::write_dir(out, &renderer.layout().branch_files(&plan.next))?;
        eprintln!(
            "wrote the next state into {} ({} files written, {} unchanged, {} removed)",
            out.display(),
            summary.written,
            summary.unchanged,
            summary.removed
        );
    }
    super::leave(plan);
    super::leave(renderer);
    super::leave(fleet);
    Ok(())
}

/// Every file under `dir` (none if it does not exist), by `/`-separated relative path, leaving
/// out `.git`. Symbolic links are neither followed nor read. The tree is walked one folder per
/// task and files are read in parallel.
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
    let files: Vec<Vec<(String, crate::content::Content)>> = top
        .par_iter()
        .filter(|entry| entry.file_name() != ".git")
        .map(|entry| {
            walkdir::WalkDir::new(entry.path())
                .follow_root_links(false)
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
) -> Result<(String, crate::content::Content), Error> {
    let relative = crate::layout::relative_path(dir, entry.path());
    let text = std::fs::read_to_string(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
    Ok((relative, text.into()))
}
