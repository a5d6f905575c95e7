//! `fleeet reconcile`: the next wave as a commit on the pull-request branch and one pull request
//! into the rendered branch.
//!
//! Fetch the rendered branch (creating it with an empty root commit if it does not exist), plan
//! against its tip, build the next tree as git objects on top of it, push it to the
//! pull-request branch with a lease, then open or update the one fleeet pull request. A lost
//! lease means another run moved the branch, and a rendered branch that moved before the push
//! landed means the plan was made on an old tip: either way re-fetch and re-plan, a bounded
//! number of times.
//! Nothing is pushed or written to GitHub when it would not change anything.

use std::path::Path;

use git2::Oid;
use jiff::Timestamp;
use serde::Serialize;

use crate::Error;
use crate::free::FreeLater;
use crate::git::{Auth, Identity, PushOutcome, Repo};
use crate::github::{MergeMethod, MergeOutcome, PullRequestSpec, Target, runtime};
use crate::health::HealthSnapshot;
use crate::layout::{Branch, Layout};
use crate::model::Fleet;
use crate::render::{Rendered, Renderer};
use crate::report;
use crate::rollout::{self, CurrentState, Inputs, ModuleState, Plan};
use crate::timing::stage;

/// How many times a run re-plans after another run moved a branch under it.
pub const ATTEMPTS: usize = 3;

/// What `reconcile` works with.
pub struct Options<'a> {
    pub fleet_dir: &'a Path,
    /// A remote name or URL.
    pub remote: &'a str,
    pub auth: Auth,
    /// None: no pull request is opened (the branch is still pushed unless `dry_run`).
    pub github: Option<Target>,
    pub health: Option<&'a HealthSnapshot>,
    pub now: Timestamp,
    pub dry_run: bool,
}

/// What happened to the pull request.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestReport {
    pub number: u64,
    pub url: String,
    /// created, updated, unchanged, closed or merged.
    pub action: String,
}

/// The outcome of a run.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub plan: Plan,
    /// The commit proposed on the pull-request branch, if the plan changes anything.
    pub commit: Option<String>,
    /// Whether the pull-request branch was moved by this run.
    pub pushed: bool,
    pub pull_request: Option<PullRequestReport>,
    /// Another run kept moving the pull-request branch: this run left it the next step.
    pub ahead: bool,
    /// What was done or would be done, in order, for people.
    pub log: Vec<String>,
}

/// Runs one reconcile of `fleet` (loaded from `options.fleet_dir`).
pub fn reconcile(
    fleet: &Fleet,
    renderer: &Renderer<'_>,
    desired: &Rendered,
    options: &Options<'_>,
) -> Result<Report, Error> {
    let repo = FreeLater::new(Repo::open(options.fleet_dir)?);
    let mut run = Run {
        fleet,
        renderer,
        desired,
        options,
        source: repo.resolve("HEAD")?,
        repo: &repo,
        identity: Identity {
            name: "fleeet".into(),
            email: "fleeet@users.noreply.github.com".into(),
            time: options.now,
        },
        log: Vec::new(),
    };
    let mut last_plan = None;
    for attempt in 1..=ATTEMPTS {
        match run.attempt(attempt)? {
            Attempt::Done(report) => return Ok(report),
            Attempt::Again(plan) => last_plan = plan.or(last_plan),
        }
    }
    run.ahead(last_plan)
}

/// One run of `reconcile`: what each attempt works with, and what it did so far.
struct Run<'r> {
    fleet: &'r Fleet,
    renderer: &'r Renderer<'r>,
    desired: &'r Rendered,
    options: &'r Options<'r>,
    repo: &'r Repo,
    /// The fleet repository's HEAD, named in commit messages.
    source: Option<Oid>,
    identity: Identity,
    log: Vec<String>,
}

/// How an attempt ended.
enum Attempt {
    Done(Report),
    /// A branch moved under the run: plan again. The plan made on the old tip, if any.
    Again(Option<Plan>),
}

/// The rendered branch at the start of an attempt.
enum Tip {
    /// Its tip; none on a dry run, when it does not exist yet.
    At(Option<Oid>),
    /// Another run created it first.
    Raced,
}

impl Run<'_> {
    /// Plans on the tip of the rendered branch, proposes the step and opens its pull request.
    fn attempt(&mut self, attempt: usize) -> Result<Attempt, Error> {
        let (options, renderer, repo) = (self.options, self.renderer, self.repo);
        let pr_branch = &self.fleet.spec.github.branch.value;
        let Tip::At(rendered) = self.rendered_tip()? else {
            return Ok(Attempt::Again(None));
        };
        let proposed = stage("fetch the pull-request branch", || {
            repo.fetch_branch(options.remote, pr_branch, &options.auth)
        })?;
        let (current, mut plan) = self.plan(rendered)?;
        if !plan.changed {
            self.log.push("nothing to roll out now".into());
            let pull_request = match &options.github {
                Some(target) => close_open_pull_request(
                    self.fleet,
                    target,
                    &plan,
                    options.dry_run,
                    &mut self.log,
                )?,
                None => None,
            };
            return Ok(Attempt::Done(self.report(plan, None, false, pull_request)));
        }

        // The desired pointers are held by their ids: render again the texts the step writes.
        stage("render the step's files", || {
            renderer.restore_texts(&mut plan.next.pointers, &current.branch.pointers)
        });
        let layout = renderer.layout();
        let tree = write_step(repo, layout, rendered, &plan.next, &current.branch)?;
        let up_to_date = match proposed {
            Some(head) => {
                repo.tree_of(head)? == tree
                    && repo.parents_of(head)? == rendered.into_iter().collect::<Vec<_>>()
            }
            None => false,
        };
        let head = match (up_to_date, proposed) {
            (true, Some(head)) => {
                self.log
                    .push(format!("{pr_branch} already holds this step"));
                head
            }
            _ => match self.propose(&plan, tree, rendered, proposed, attempt)? {
                Some(commit) => commit,
                None => return Ok(Attempt::Again(Some(plan))),
            },
        };
        let pushed = !up_to_date && !options.dry_run;
        let pull_request = match &options.github {
            Some(target) => Some(open_pull_request(
                self.fleet,
                target,
                &plan,
                head,
                options.dry_run,
                &mut self.log,
            )?),
            None => None,
        };
        Ok(Attempt::Done(self.report(
            plan,
            Some(head),
            pushed,
            pull_request,
        )))
    }

    /// What the rendered branch holds at `rendered`, and the plan of the next step on it.
    fn plan(&self, rendered: Option<Oid>) -> Result<(FreeLater<CurrentState>, Plan), Error> {
        let renderer = self.renderer;
        // What the branch holds if its rollout records are right: what matches is not read.
        let expect = |records: &_, sampled: &_| {
            rollout::expected_branch(renderer, self.desired, records, sampled)
        };
        let mut current = self
            .repo
            .current_state(rendered, renderer.layout(), expect)?;
        current.keep_texts_of(|module| self.fleet.rolls_back(module));
        let mut plan = stage("plan", || {
            rollout::plan(&Inputs {
                renderer,
                desired: self.desired,
                current: &current,
                health: self.options.health,
                now: self.options.now,
            })
        });
        plan.changed |= renderer.layout().syncs_changed(&plan.next, &current.branch);
        Ok((FreeLater::new(current), plan))
    }

    /// The rendered branch, fetched; a branch that does not exist is created with an empty
    /// root commit (unless a dry run).
    fn rendered_tip(&mut self) -> Result<Tip, Error> {
        let (options, branch) = (self.options, &self.fleet.spec.output.branch.value);
        let tip = stage("fetch", || {
            self.repo
                .fetch_branch(options.remote, branch, &options.auth)
        })?;
        if tip.is_some() || options.dry_run {
            return Ok(Tip::At(tip));
        }
        let message = "fleeet: start the rendered branch\n\nPull requests of fleeet add each rollout wave on top of this commit.\n";
        let root = self.repo.empty_root(message, &self.identity)?;
        let pushed =
            self.repo
                .push_with_lease(options.remote, root, branch, None, &options.auth)?;
        Ok(match pushed {
            PushOutcome::Pushed => {
                self.log
                    .push(format!("created {branch} with an empty root commit"));
                Tip::At(Some(root))
            }
            PushOutcome::Rejected { .. } => Tip::Raced,
        })
    }

    /// Commits the step's `tree` on `rendered` and pushes it to the pull-request branch over
    /// `proposed` (unless a dry run). `None`: a branch moved under the run.
    fn propose(
        &mut self,
        plan: &Plan,
        tree: Oid,
        rendered: Option<Oid>,
        proposed: Option<Oid>,
        attempt: usize,
    ) -> Result<Option<Oid>, Error> {
        let (options, repo) = (self.options, self.repo);
        let pr_branch = &self.fleet.spec.github.branch.value;
        let parents: Vec<Oid> = rendered.into_iter().collect();
        let message = commit_message(plan, self.source);
        let commit = repo.commit(&parents, tree, &message, &self.identity)?;
        if options.dry_run {
            self.log
                .push(format!("would push {} to {pr_branch}", short(commit)));
            return Ok(Some(commit));
        }
        let pushed = stage("push", || {
            repo.push_with_lease(options.remote, commit, pr_branch, proposed, &options.auth)
        })?;
        let moved = match pushed {
            PushOutcome::Pushed => {
                self.log
                    .push(format!("pushed {} to {pr_branch}", short(commit)));
                // A step planned on an old tip of the rendered branch would repeat or undo
                // what landed since: plan again on the new tip.
                let branch = &self.fleet.spec.output.branch.value;
                let now = repo.fetch_branch(options.remote, branch, &options.auth)?;
                (now != rendered).then(|| format!("{branch} moved under this run"))
            }
            PushOutcome::Rejected { reason } => {
                Some(format!("{pr_branch} moved under this run ({reason})"))
            }
        };
        let Some(moved) = moved else {
            return Ok(Some(commit));
        };
        self.log.push(format!(
            "{moved}; planning again (attempt {attempt} of {ATTEMPTS})"
        ));
        Ok(None)
    }

    /// The report of a run whose branches kept moving: another run is ahead.
    fn ahead(mut self, last_plan: Option<Plan>) -> Result<Report, Error> {
        let output = &self.fleet.spec.output;
        let pr_branch = &self.fleet.spec.github.branch.value;
        self.log.push(format!(
            "another run is ahead: {pr_branch} or {} kept moving; the next run proposes the next step",
            output.branch.value
        ));
        let plan = last_plan.ok_or_else(|| Error::Git {
            context: format!("creating {}", output.branch.value),
            message: "another run kept creating it at the same time".into(),
        })?;
        let mut report = self.report(plan, None, false, None);
        report.ahead = true;
        Ok(report)
    }

    fn report(
        &mut self,
        plan: Plan,
        commit: Option<Oid>,
        pushed: bool,
        pull_request: Option<PullRequestReport>,
    ) -> Report {
        Report {
            plan,
            commit: commit.map(|c| c.to_string()),
            pushed,
            pull_request,
            ahead: false,
            log: std::mem::take(&mut self.log),
        }
    }
}

/// Writes the tree of the step to `next` on the commit `rendered` (whose files `current`
/// holds): the cluster folders that change and `.fleeet/` are written, the rest is kept by id.
fn write_step(
    repo: &Repo,
    layout: Layout<'_>,
    rendered: Option<Oid>,
    next: &Branch,
    current: &Branch,
) -> Result<Oid, Error> {
    let Some(rendered) = rendered else {
        let files = FreeLater::new(stage("layout", || layout.branch_files(next)));
        return stage("tree write", || repo.write_tree(&files));
    };
    let (folders, files) = stage("layout", || {
        let changed = layout.changed_folders(next, current);
        let files = FreeLater::new(layout.folder_files(next, &changed));
        let mut folders: Vec<String> = changed
            .iter()
            .map(|cluster| format!("{}/{cluster}", layout.path))
            .collect();
        folders.push(".fleeet".into());
        (folders, files)
    });
    let base = repo.tree_of(rendered)?;
    stage("tree write", || repo.write_folders(base, &folders, &files))
}

/// The commit message: a one-line summary, the plan, and trailers.
pub fn commit_message(plan: &Plan, source: Option<Oid>) -> String {
    let mut message = format!("{}\n\n", title(plan));
    message.push_str(&report::plan_table(plan, false));
    message.push('\n');
    if let Some(source) = source {
        message.push_str(&format!("Fleeet-Source: {source}\n"));
    }
    for m in plan
        .modules
        .iter()
        .filter(|m| m.state == ModuleState::Advancing)
    {
        for wave in m
            .waves
            .iter()
            .filter(|w| w.status == rollout::WaveStatus::Applying)
        {
            message.push_str(&format!(
                "Fleeet-Wave: {} {} {}\n",
                m.module,
                m.to.as_deref().unwrap_or("removed"),
                wave.name
            ));
        }
    }
    message
}

/// The pull request's title: the plan's summary without markdown.
pub fn title(plan: &Plan) -> String {
    report::plan_summary(plan).replace("**", "")
}

fn open_pull_request(
    fleet: &Fleet,
    target: &Target,
    plan: &Plan,
    head: Oid,
    dry_run: bool,
    log: &mut Vec<String>,
) -> Result<PullRequestReport, Error> {
    let settings = &fleet.spec.github;
    let spec = PullRequestSpec {
        head: settings.branch.value.clone(),
        base: fleet.spec.output.branch.value.clone(),
        title: title(plan),
        body: report::plan_markdown(plan),
        labels: settings.labels.clone(),
        reviewers: settings.reviewers.clone(),
    };
    let runtime = runtime()?;
    runtime.block_on(async {
        let github = target.client()?;
        if dry_run {
            let existing = github.find_pull_request(&spec.head, &spec.base).await?;
            let (number, url, action) = match existing {
                Some(pr) => (pr.number, pr.html_url, "would update"),
                None => (0, String::new(), "would create"),
            };
            log.push(format!("{action} the pull request {:?}", spec.title));
            return Ok(PullRequestReport {
                number,
                url,
                action: action.replace(' ', "-"),
            });
        }
        let outcome = github.upsert_pull_request(&spec).await?;
        let pr = outcome.pull_request;
        let mut action = format!("{:?}", outcome.action).to_lowercase();
        log.push(format!(
            "{action} pull request #{} {}",
            pr.number, pr.html_url
        ));
        if settings.auto_merge {
            match github
                .merge_when_mergeable(pr.number, &head.to_string(), MergeMethod::Merge)
                .await?
            {
                MergeOutcome::Merged { sha } => {
                    log.push(format!(
                        "merged pull request #{} as {}",
                        pr.number,
                        &sha[..sha.len().min(12)]
                    ));
                    action = "merged".into();
                }
                MergeOutcome::NotMergeable { reason } => log.push(format!("not merged: {reason}")),
                MergeOutcome::HeadMoved { .. } => {
                    log.push("not merged: the pull request moved since this run pushed it".into())
                }
            }
        }
        Ok(PullRequestReport {
            number: pr.number,
            url: pr.html_url,
            action,
        })
    })
}

fn close_open_pull_request(
    fleet: &Fleet,
    target: &Target,
    plan: &Plan,
    dry_run: bool,
    log: &mut Vec<String>,
) -> Result<Option<PullRequestReport>, Error> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let github = target.client()?;
        let Some(pr) = github
            .find_pull_request(&fleet.spec.github.branch.value, &fleet.spec.output.branch.value)
            .await?
        else {
            return Ok(None);
        };
        let why: Vec<String> = plan
            .modules
            .iter()
            .filter(|m| m.state != ModuleState::Complete)
            .map(|m| format!("- `{}`: {}", m.module, m.reason))
            .collect();
        let comment = if why.is_empty() {
            "fleeet closed this pull request: every cluster runs the desired state, there is nothing left to roll out.".to_string()
        } else {
            format!("fleeet closed this pull request: no wave can advance now.\n\n{}", why.join("\n"))
        };
        if dry_run {
            log.push(format!("would close pull request #{}", pr.number));
            return Ok(Some(PullRequestReport { number: pr.number, url: pr.html_url, action: "would-close".into() }));
        }
        github.close_pull_request(pr.number, &comment).await?;
        log.push(format!("closed pull request #{}: nothing to roll out now", pr.number));
        Ok(Some(PullRequestReport { number: pr.number, url: pr.html_url, action: "closed".into() }))
    })
}

fn short(id: Oid) -> String {
    id.to_string()[..12].to_string()
}
