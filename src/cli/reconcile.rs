//! `fleeet reconcile` and `fleeet preview`: the CI flow on GitHub.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use jiff::Timestamp;

use super::commands::load;
use super::health::HealthArgs;
use crate::git::Auth;
use crate::github::{DEFAULT_API_URL, Target};
use crate::render::Renderer;
use crate::timing::stage;
use crate::{Error, preview, reconcile, report, template};

/// Where the pull requests go. The token is read from `GITHUB_TOKEN`, never from a flag.
#[derive(Debug, Args)]
pub struct GitHubArgs {
    /// The GitHub repository of the pull requests. Without it no pull request is opened.
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    pub github_repo: Option<String>,
    /// The GitHub REST API (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, env = "GITHUB_API_URL", value_name = "URL", default_value = DEFAULT_API_URL)]
    pub github_api: String,
    /// The git remote (name or URL) holding the rendered branch.
    #[arg(long, value_name = "NAME|URL", default_value = "origin")]
    pub remote: String,
    /// Plan at this time (RFC 3339) instead of now: for reviews and tests.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<Timestamp>,
    /// Write the plan as JSON to this file (for the GitHub Action's `plan` output).
    #[arg(long, value_name = "FILE")]
    pub plan_json: Option<PathBuf>,
    /// Print the outcome as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

impl GitHubArgs {
    fn token() -> Option<String> {
        std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty())
    }

    fn auth() -> Auth {
        Self::token().map_or_else(Auth::none, Auth::token)
    }

    /// The GitHub repository to talk to, if both it and a token are known.
    fn target(&self) -> Option<Target> {
        Some(Target {
            api_url: self.github_api.clone(),
            repo: self.github_repo.clone()?,
            token: Self::token()?,
        })
    }

    fn write_plan(&self, plan: &crate::rollout::Plan) -> anyhow::Result<()> {
        if let Some(file) = &self.plan_json {
            std::fs::write(file, serde_json::to_string_pretty(plan)?)
                .map_err(|e| Error::io(file, e))?;
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub fleet: super::FleetArg,
    #[command(flatten)]
    pub health: HealthArgs,
    #[command(flatten)]
    pub github: GitHubArgs,
    /// Print what would be pushed and opened; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    #[command(flatten)]
    pub fleet: super::FleetArg,
    #[command(flatten)]
    pub github: GitHubArgs,
    /// The pull request to comment on (default: the one in GITHUB_EVENT_PATH).
    #[arg(long, value_name = "NUMBER")]
    pub pull_request: Option<u64>,
    /// Print the comment; post nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn reconcile(args: ReconcileArgs) -> anyhow::Result<()> {
    let health = args.health.start();
    let fleet = stage("load", || load(&args.fleet.fleet))?;
    let env = template::sandbox();
    let renderer = Renderer::new(&fleet, &env).map_err(Error::from)?;
    let desired = stage("render", || renderer.render_ids()).map_err(Error::from)?;
    let health = stage("health", || health.finish(&fleet))?;
    let target = args.github.target();
    if target.is_none() {
        eprintln!(
            "note: no GitHub repository or GITHUB_TOKEN: the wave is pushed, no pull request is opened"
        );
    }
    let report = reconcile::reconcile(
        &fleet,
        &renderer,
        &desired,
        &reconcile::Options {
            fleet_dir: &args.fleet.fleet,
            remote: &args.github.remote,
            auth: GitHubArgs::auth(),
            github: target,
            health: health.as_ref(),
            now: args.github.now.unwrap_or_else(Timestamp::now),
            dry_run: args.dry_run,
        },
    )?;
    args.github.write_plan(&report.plan)?;
    if let Some(pr) = &report.pull_request
        && let Some(file) = std::env::var_os("GITHUB_OUTPUT")
        && pr.number > 0
    {
        let mut out = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&file)?;
        writeln!(out, "pull-request-number={}", pr.number)?;
    }
    if args.github.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        print!("{}", report::plan_table(&report.plan, color));
        for line in &report.log {
            eprintln!("{line}");
        }
    }
    super::leave((report, health, desired));
    super::leave(renderer);
    super::leave(fleet);
    Ok(())
}

pub fn preview(args: PreviewArgs) -> anyhow::Result<()> {
    let fleet = load(&args.fleet.fleet)?;
    let env = template::sandbox();
    let renderer = Renderer::new(&fleet, &env).map_err(Error::from)?;
    let desired = renderer.render_all().map_err(Error::from)?;
    let github = match (
        args.dry_run,
        args.github.target(),
        args.pull_request.or_else(event_pull_request),
    ) {
        (false, Some(target), Some(number)) => Some((target, number)),
        (false, _, None) => {
            eprintln!(
                "note: no pull request number (--pull-request, or GITHUB_EVENT_PATH): printing the preview only"
            );
            None
        }
        (false, None, _) => {
            eprintln!("note: no GitHub repository or GITHUB_TOKEN: printing the preview only");
            None
        }
        (true, ..) => None,
    };
    let report = preview::preview(
        &renderer,
        &desired,
        &preview::Options {
            fleet_dir: &args.fleet.fleet,
            remote: &args.github.remote,
            auth: GitHubArgs::auth(),
            github,
            now: args.github.now.unwrap_or_else(Timestamp::now),
        },
    )?;
    args.github.write_plan(&report.plan)?;
    if args.github.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.body);
        if let Some((url, action)) = &report.comment {
            eprintln!(
                "{} the preview comment {url}",
                format!("{action:?}").to_lowercase()
            );
        }
    }
    Ok(())
}

/// The pull request number of the GitHub Actions event being handled, if any.
fn event_pull_request() -> Option<u64> {
    let path = std::env::var_os("GITHUB_EVENT_PATH")?;
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    event["pull_request"]["number"]
        .as_u64()
        .or_else(|| event["number"].as_u64())
}
