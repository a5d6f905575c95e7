//! `fleeet preview`: the rollout a fleet pull request would start, as one comment on it.

use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use crate::Error;
use crate::git::{Auth, Repo};
use crate::github::{Action, Target, runtime};
use crate::render::{Rendered, Renderer};
use crate::report;
use crate::rollout::{self, Inputs, Plan};

/// The hidden marker by which the preview comment is found again.
pub const MARKER: &str = "<!-- fleeet:preview -->";

/// What `preview` works with.
pub struct Options<'a> {
    pub fleet_dir: &'a Path,
    pub remote: &'a str,
    pub auth: Auth,
    /// With a pull request number: where to comment. None: print only.
    pub github: Option<(Target, u64)>,
    pub now: Timestamp,
}

/// The outcome of a preview.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub plan: Plan,
    pub body: String,
    /// The comment's URL and what was done to it (created, updated, unchanged).
    pub comment: Option<(String, Action)>,
}

/// Plans the checked-out fleet (a pull request's head) against the rendered branch on
/// `options.remote`, and comments the blast radius on the pull request.
pub fn preview(
    renderer: &Renderer<'_>,
    desired: &Rendered,
    options: &Options<'_>,
) -> Result<Report, Error> {
    let fleet = renderer.fleet;
    let output = &fleet.spec.output;
    let repo = Repo::open(options.fleet_dir)?;
    let tip = repo.fetch_branch(options.remote, &output.branch.value, &options.auth)?;
    let current = repo.current_state(tip, renderer.layout(), |records, sampled| {
        rollout::expected_branch(renderer, desired, records, sampled)
    })?;
    let plan = rollout::plan(&Inputs {
        renderer,
        desired,
        current: &current,
        health: None,
        now: options.now,
    });
    let body = report::preview_markdown(&plan);
    let comment = match &options.github {
        Some((target, number)) => {
            let outcome = runtime()?.block_on(async {
                target
                    .client()?
                    .upsert_comment(*number, MARKER, &body)
                    .await
            })?;
            Some((outcome.html_url, outcome.action))
        }
        None => None,
    };
    Ok(Report {
        plan,
        body,
        comment,
    })
}
