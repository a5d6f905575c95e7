//! `fleeet reconcile` and `fleeet preview` end to end: a real fleet repository whose origin is a
//! local bare repository, a fake GitHub over HTTP, merges done the way GitHub does them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use fleeet::git::{Auth, Identity, Repo};
use fleeet::health::HealthSnapshot;
use serde_json::json;
use tempfile::TempDir;

use crate::support::git_http::GitServer;
use crate::support::github::{FakeGitHub, REPO, TOKEN};
use crate::support::{Run, example_fleet, git_at, healthy_snapshot, without_stores};

const RENDERED: &str = "fleeet/rendered";
const NEXT: &str = "fleeet/next";

/// A fleet repository checkout (the example fleet) with a bare `origin`, and a fake GitHub
/// whose branches are origin's.
struct Setup {
    fleet: TempDir,
    origin: TempDir,
    github: FakeGitHub,
    scratch: TempDir,
}

/// `git ARGS` in `dir`, committing at a fixed date.
fn git(dir: &Path, args: &[&str]) {
    git_at(dir, Some("2026-11-21T08:00:00Z"), args);
}

fn at(time: &str) -> Identity {
    Identity {
        name: "GitHub".into(),
        email: "noreply@github.com".into(),
        time: time.parse().unwrap(),
    }
}

impl Setup {
    async fn new() -> Setup {
        let fleet = tempfile::tempdir().unwrap();
        let origin = tempfile::tempdir().unwrap();
        for entry in walkdir::WalkDir::new(example_fleet()) {
            let entry = entry.unwrap();
            let target = fleet
                .path()
                .join(entry.path().strip_prefix(example_fleet()).unwrap());
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&target).unwrap();
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
        git(
            origin.path(),
            &["init", "--bare", "--quiet", "--initial-branch=main"],
        );
        git(fleet.path(), &["init", "--quiet", "--initial-branch=main"]);
        git(fleet.path(), &["add", "."]);
        git(
            fleet.path(),
            &["commit", "--quiet", "-m", "The example fleet"],
        );
        git(
            fleet.path(),
            &["remote", "add", "origin", origin.path().to_str().unwrap()],
        );
        git(fleet.path(), &["push", "--quiet", "origin", "main"]);
        let github = FakeGitHub::start().await;
        github.mirror_branches(origin.path());
        Setup {
            fleet,
            origin,
            github,
            scratch: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs `fleeet` in the fleet checkout as the GitHub Action would.
    fn fleeet(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_fleeet"))
            .args(args)
            .current_dir(self.fleet.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_API_URL", self.github.api_url())
            .output()
            .expect("fleeet runs");
        let run = Run(output);
        assert!(
            !run.stdout().contains(TOKEN) && !run.stderr().contains(TOKEN),
            "the token leaked"
        );
        run
    }

    /// `fleeet reconcile` at `now`, with every pointer of the rendered branch healthy since
    /// `healthy_since` (or no health at all).
    fn reconcile(&self, now: &str, healthy_since: Option<&str>) -> Run {
        let mut args = vec!["reconcile", "--now", now];
        let health = self.scratch.path().join("health.yaml");
        if let Some(since) = healthy_since {
            std::fs::write(&health, healthy_snapshot(&self.rendered_files(), since)).unwrap();
            args.extend(["--health", health.to_str().unwrap()]);
        }
        self.fleeet(&args)
    }

    fn origin(&self) -> Repo {
        Repo::open(self.origin.path()).unwrap()
    }

    fn tip(&self, branch: &str) -> Option<git2::Oid> {
        self.origin().resolve(branch).unwrap()
    }

    /// The files of the rendered branch on origin.
    fn rendered_files(&self) -> BTreeMap<String, String> {
        let Some(tip) = self.tip(RENDERED) else {
            return BTreeMap::new();
        };
        self.origin()
            .read_files(tip, &["clusters", ".fleeet"])
            .unwrap()
            .into_iter()
            .map(|(p, c)| (p, c.text().unwrap().to_string()))
            .collect()
    }

    /// Merges the open fleeet pull request at `time` as GitHub does: a merge commit of the
    /// pull-request branch on the rendered branch.
    fn merge(&self, time: &str) {
        let origin = self.origin();
        let (rendered, next) = (self.tip(RENDERED).unwrap(), self.tip(NEXT).unwrap());
        let tree = origin.tree_of(next).unwrap();
        let merge = origin
            .commit(&[rendered, next], tree, "Merge pull request", &at(time))
            .unwrap();
        git(
            self.origin.path(),
            &[
                "update-ref",
                &format!("refs/heads/{RENDERED}"),
                &merge.to_string(),
            ],
        );
        let open: Vec<u64> = self
            .github
            .pulls()
            .iter()
            .filter(|p| p.open)
            .map(|p| p.number)
            .collect();
        for number in open {
            self.github.edit_pull(number, |p| p.open = false);
        }
    }

    /// Commits a change to the fleet repository.
    fn change_fleet(&self, path: &str, from: &str, to: &str) {
        let file = self.fleet.path().join(path);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{path} holds {from}");
        std::fs::write(&file, text.replace(from, to)).unwrap();
        git(
            self.fleet.path(),
            &["commit", "--quiet", "-am", &format!("{path}: {to}")],
        );
    }

    fn open_pulls(&self) -> Vec<crate::support::github::Pull> {
        self.github.pulls().into_iter().filter(|p| p.open).collect()
    }

    /// The desired render of the fleet checkout.
    fn desired(&self) -> BTreeMap<String, String> {
        let out = self.scratch.path().join("desired");
        let _ = std::fs::remove_dir_all(&out);
        self.fleeet(&["render", "--out", out.to_str().unwrap()])
            .success();
        crate::support::read_tree(&out)
    }
}

/// Times of a run: `minutes` after 09:00.
fn t(minutes: u32) -> String {
    format!("2026-11-21T{:02}:{:02}:00Z", 9 + minutes / 60, minutes % 60)
}

/// Reconciles, merging each pull request, until nothing is left to do; returns the number of
/// pull requests merged.
fn roll_out(setup: &Setup, start: u32) -> (usize, u32) {
    let mut merged = 0;
    let mut now = start;
    for _ in 0..20 {
        let healthy_since = t(now.saturating_sub(40));
        setup.reconcile(&t(now), Some(&healthy_since)).success();
        if setup.open_pulls().is_empty() {
            if setup
                .rendered_files()
                .keys()
                .any(|p| p.starts_with(".fleeet/"))
            {
                now += 31;
                continue;
            }
            return (merged, now);
        }
        setup.merge(&t(now + 1));
        merged += 1;
        now += 41;
    }
    panic!("the rollout did not converge");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_fleet_rolls_out_in_waves_of_pull_requests() {
    let setup = Setup::new().await;

    // The first run starts the rendered branch and proposes the canary wave.
    let run = setup.reconcile(&t(0), None);
    let log = run.stderr();
    assert!(
        log.contains("created fleeet/rendered with an empty root commit"),
        "{log}"
    );
    assert!(log.contains("created pull request #1"), "{log}");
    let pulls = setup.open_pulls();
    assert_eq!(pulls.len(), 1);
    let pr = &pulls[0];
    assert_eq!((pr.head.as_str(), pr.base.as_str()), (NEXT, RENDERED));
    assert!(
        pr.title
            .starts_with("fleeet: roll out cert-manager v1.16.2 (wave canary)"),
        "{}",
        pr.title
    );
    assert!(pr.body.as_deref().unwrap().contains("```mermaid"));
    assert_eq!(pr.labels, vec!["fleeet".to_string(), "rollout".to_string()]);
    assert_eq!(pr.requested_teams, vec!["platform".to_string()]);
    let next = setup.origin();
    let head = next.resolve(NEXT).unwrap().unwrap();
    assert_eq!(
        next.parents_of(head).unwrap(),
        vec![setup.tip(RENDERED).unwrap()]
    );
    let message = Command::new("git")
        .args(["log", "-1", "--format=%B", NEXT])
        .current_dir(setup.origin.path())
        .output()
        .unwrap();
    let message = String::from_utf8(message.stdout).unwrap();
    assert!(message.contains("Fleeet-Source: "), "{message}");
    assert!(
        message.contains("Fleeet-Wave: ingress-nginx 4.11.3 canary"),
        "{message}"
    );

    // Running again with nothing new pushes nothing and writes nothing to GitHub.
    setup.github.clear_requests();
    let run = setup.reconcile(&t(0), None);
    assert!(
        run.stderr().contains("fleeet/next already holds this step"),
        "{}",
        run.stderr()
    );
    assert_eq!(setup.tip(NEXT), Some(head));
    assert!(
        setup.github.writes().is_empty(),
        "{:?}",
        setup.github.writes()
    );

    // Merge, then roll out until done.
    setup.merge(&t(1));
    let (merged, _) = roll_out(&setup, 45);
    assert!(merged >= 3, "{merged} more pull requests");
    let rendered = setup.rendered_files();
    let desired: BTreeMap<String, String> = setup.desired();
    assert_eq!(
        without_stores(rendered),
        without_stores(desired),
        "the rendered branch converges to the desired render"
    );
    assert_eq!(
        setup.github.pulls().len(),
        merged + 1,
        "one pull request per step, never two open"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_wave_halts_and_the_pull_request_says_so() {
    let setup = Setup::new().await;
    setup.reconcile(&t(0), None).success();
    setup.merge(&t(1));
    let (_, end) = roll_out(&setup, 45);

    setup.change_fleet("modules/payments.yaml", "version: 7.4.1", "version: 7.5.0");
    setup.reconcile(&t(end), Some(&t(end))).success();
    let pr = setup.open_pulls().pop().expect("the canary wave of 7.5.0");
    assert!(
        pr.title.contains("payments 7.5.0 (wave canary)"),
        "{}",
        pr.title
    );
    setup.merge(&t(end + 1));

    // The canary fails.
    let files = setup.rendered_files();
    let health: String = healthy_snapshot(&files, &t(end + 2))
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("payments:") && line.contains("7.5.0") {
                format!(
                    "{}\n",
                    line.replace(
                        "ready: true",
                        "ready: false, message: \"Deployment/payments-api: 0/3 ready\""
                    )
                    .replace("ReconciliationSucceeded", "HealthCheckFailed")
                )
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let health_file = setup.scratch.path().join("failing.yaml");
    std::fs::write(&health_file, health).unwrap();
    let run = setup.fleeet(&[
        "reconcile",
        "--now",
        &t(end + 10),
        "--health",
        health_file.to_str().unwrap(),
    ]);
    run.success();
    let pr = setup
        .open_pulls()
        .pop()
        .expect("a pull request recording the halt");
    let body = pr.body.unwrap();
    assert!(body.contains("### `payments`: halted"), "{body}");
    assert!(body.contains("HealthCheckFailed"), "{body}");
    assert!(
        body.contains("Deployment/payments-api: 0/3 ready"),
        "{body}"
    );
    assert!(pr.title.contains("halted"), "{}", pr.title);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_at_once_propose_one_wave_in_one_pull_request() {
    let setup = Setup::new().await;
    setup.reconcile(&t(0), None).success();
    setup.merge(&t(1));
    // A new fleet state, reconciled by two runs at the same time.
    setup.change_fleet(
        "modules/monitoring.yaml",
        "version: 2.3.0",
        "version: 2.4.0",
    );
    let since = t(0);
    let health = setup.scratch.path().join("health.yaml");
    std::fs::write(&health, healthy_snapshot(&setup.rendered_files(), &since)).unwrap();
    let args = [
        "reconcile",
        "--now",
        &t(60),
        "--health",
        health.to_str().unwrap(),
    ];
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| setup.fleeet(&args));
        let b = s.spawn(|| setup.fleeet(&args));
        (a.join().unwrap(), b.join().unwrap())
    });
    a.success();
    b.success();
    let open = setup.open_pulls();
    assert_eq!(open.len(), 1, "{open:?}");
    let next = setup.tip(NEXT).unwrap();
    assert_eq!(
        setup.origin().parents_of(next).unwrap(),
        vec![setup.tip(RENDERED).unwrap()]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_changes_nothing_and_no_change_closes_the_pull_request() {
    let setup = Setup::new().await;
    let run = setup.fleeet(&["reconcile", "--dry-run", "--now", &t(0)]);
    assert!(run.stderr().contains("would push"), "{}", run.stderr());
    assert!(
        run.stderr().contains("would create the pull request"),
        "{}",
        run.stderr()
    );
    assert_eq!(setup.tip(RENDERED), None);
    assert!(setup.github.writes().is_empty());

    setup.reconcile(&t(0), None).success();
    assert_eq!(setup.open_pulls().len(), 1);
    // Someone empties the fleet before the pull request merges: the rendered branch (still
    // empty) already matches it, so the pull request has nothing left to do.
    for folder in ["modules", "clusters", "inventory"] {
        std::fs::remove_dir_all(setup.fleet.path().join(folder)).unwrap();
    }
    // With no cluster left, there is no management cluster either.
    let fleet_yaml = setup.fleet.path().join("fleet.yaml");
    let text = std::fs::read_to_string(&fleet_yaml).unwrap();
    let (kept, _) = text.split_once("  # The management cluster").unwrap();
    std::fs::write(&fleet_yaml, kept).unwrap();
    git(setup.fleet.path(), &["add", "-A"]);
    git(
        setup.fleet.path(),
        &["commit", "--quiet", "-m", "an empty fleet"],
    );
    let run = setup.reconcile(&t(5), None);
    assert!(
        run.stderr().contains("closed pull request #1"),
        "{}",
        run.stderr()
    );
    assert!(setup.open_pulls().is_empty());
    let comments = setup.github.comments(1);
    assert!(
        comments[0].1.contains("fleeet closed this pull request"),
        "{comments:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_comments_the_blast_radius_once() {
    let setup = Setup::new().await;
    setup.reconcile(&t(0), None).success();
    setup.merge(&t(1));
    let (_, end) = roll_out(&setup, 45);
    setup
        .github
        .set_branch("bump", &setup.tip(RENDERED).unwrap().to_string());
    let number = setup
        .github
        .open_pull("bump", "main", "Bump ingress-nginx", "");
    setup.change_fleet(
        "modules/ingress-nginx.yaml",
        "version: 4.11.3",
        "version: 4.12.0",
    );
    let args = [
        "preview",
        "--pull-request",
        &number.to_string(),
        "--now",
        &t(end),
    ];
    let run = setup.fleeet(&args);
    let body = run.success();
    assert!(
        body.contains("| `ingress-nginx` | 4.11.3 → 4.12.0 | 9 | 4 | canary: prod-eu-1 |"),
        "{body}"
    );
    // store-agent has not started yet: the stores' night window is not open on a Saturday.
    assert!(
        body.contains("starts rolling out **2 module(s)** to **11 cluster(s)**"),
        "{body}"
    );
    let comments = setup.github.comments(number);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].1.starts_with("<!-- fleeet:preview -->"),
        "{comments:?}"
    );
    // Again: the one comment is kept, nothing is written.
    setup.github.clear_requests();
    setup.fleeet(&args).success();
    assert!(setup.github.writes().is_empty());
    assert_eq!(setup.github.comments(number).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_merge_merges_the_pushed_commit_only() {
    let setup = Setup::new().await;
    setup.change_fleet(
        "fleet.yaml",
        "    reviewers: [acme/platform]\n",
        "    reviewers: [acme/platform]\n    autoMerge: true\n",
    );
    let run = setup.reconcile(&t(0), None);
    assert!(
        run.stderr().contains("merged pull request #1"),
        "{}",
        run.stderr()
    );
    let merge = setup
        .github
        .writes()
        .into_iter()
        .find(|r| r.method == "PUT" && r.path.ends_with("/pulls/1/merge"))
        .expect("a merge request");
    assert_eq!(merge.body["sha"], setup.tip(NEXT).unwrap().to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn mid_rollout_a_bump_restarts_a_pause_freezes_and_a_new_cluster_joins() {
    let setup = Setup::new().await;
    setup.reconcile(&t(0), None).success();
    setup.merge(&t(1));
    let (_, end) = roll_out(&setup, 45);

    // ingress-nginx 4.12.0: the canary wave is merged.
    setup.change_fleet(
        "modules/ingress-nginx.yaml",
        "version: 4.11.3",
        "version: 4.12.0",
    );
    setup.reconcile(&t(end), Some(&t(end))).success();
    assert!(
        setup.open_pulls()[0]
            .title
            .contains("ingress-nginx 4.12.0 (wave canary)")
    );
    setup.merge(&t(end + 1));

    // 4.12.1 during the rollout: a new rollout, from the first wave again.
    setup.change_fleet(
        "modules/ingress-nginx.yaml",
        "version: 4.12.0",
        "version: 4.12.1",
    );
    setup.reconcile(&t(end + 60), Some(&t(end + 2))).success();
    let pr = setup.open_pulls().pop().unwrap();
    assert!(
        pr.title.contains("ingress-nginx 4.12.1 (wave canary)"),
        "{}",
        pr.title
    );
    assert!(
        pr.body.unwrap().contains("4.11.3 → 4.12.1"),
        "from is what most clusters run"
    );
    setup.merge(&t(end + 61));

    // Paused: nothing moves, though the canary is healthy and baked.
    setup.change_fleet(
        "modules/ingress-nginx.yaml",
        "    bakeTime: 30m\n",
        "    bakeTime: 30m\n    paused: true\n",
    );
    let run = setup.reconcile(&t(end + 200), Some(&t(end + 62)));
    assert!(
        run.stdout().contains("ingress-nginx  paused"),
        "{}",
        run.stdout()
    );
    assert!(setup.open_pulls().is_empty());

    // A cluster joins: it gets the version most clusters run now, at once, for every module
    // but the paused one.
    let joined = "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: prod-eu-3\n  labels: {env: prod, region: eu-west-3, tier: standard}\n";
    std::fs::write(setup.fleet.path().join("inventory/prod-eu-3.yaml"), joined).unwrap();
    git(setup.fleet.path(), &["add", "-A"]);
    git(
        setup.fleet.path(),
        &["commit", "--quiet", "-m", "prod-eu-3 joins"],
    );
    setup.reconcile(&t(end + 210), Some(&t(end + 62))).success();
    let pr = setup
        .open_pulls()
        .pop()
        .expect("the new cluster's pull request");
    assert!(pr.title.contains("immediate change(s)"), "{}", pr.title);
    setup.merge(&t(end + 211));
    let files = setup.rendered_files();
    assert!(files["clusters/prod-eu-3/platform-base.yaml"].contains("tag: v4.2.0"));
    assert!(files["clusters/prod-eu-3/monitoring.yaml"].contains("fleeet.dev/version: \"2.3.0\""));
    assert!(
        !files.contains_key("clusters/prod-eu-3/ingress-nginx.yaml"),
        "paused: not even new clusters"
    );
    assert!(
        !files.contains_key("clusters/prod-eu-3/payments.yaml"),
        "payments depends on ingress-nginx, which is not there: held back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rendered_branch_moved_between_fetch_and_push_is_planned_again() {
    let setup = Setup::new().await;
    setup.reconcile(&t(0), None).success();
    setup.merge(&t(1));
    // The next run goes through a git server that lets a hand-made commit land on the
    // rendered branch while the run pushes its step.
    let origin = setup.origin.path().to_path_buf();
    let server = GitServer::start(origin.parent().unwrap(), None);
    let url = server.url(origin.file_name().unwrap().to_str().unwrap());
    let (landed, moved) = std::sync::mpsc::channel();
    server.before_next_push(move || {
        let repo = Repo::open(&origin).unwrap();
        let tip = repo.resolve(RENDERED).unwrap().unwrap();
        let mut files = repo.read_files(tip, &["clusters", ".fleeet"]).unwrap();
        files.insert("README.md".into(), "Do not edit by hand.\n".into());
        let tree = repo.write_tree(&files).unwrap();
        let edit = repo.commit(&[tip], tree, "A note", &at(&t(44))).unwrap();
        git(
            &origin,
            &[
                "update-ref",
                &format!("refs/heads/{RENDERED}"),
                &edit.to_string(),
                &tip.to_string(),
            ],
        );
        landed.send(edit).unwrap();
    });

    let fleet =
        fleeet::load::load(&fleeet::load::FleetFiles::read_dir(setup.fleet.path()).unwrap())
            .unwrap();
    let env = fleeet::template::sandbox();
    let renderer = fleeet::render::Renderer::new(&fleet, &env).unwrap();
    let desired = renderer.render_all().unwrap();
    let health =
        HealthSnapshot::parse("health", &healthy_snapshot(&setup.rendered_files(), &t(5))).unwrap();
    let report = fleeet::reconcile::reconcile(
        &fleet,
        &renderer,
        &desired,
        &fleeet::reconcile::Options {
            fleet_dir: setup.fleet.path(),
            remote: &url,
            auth: Auth::none(),
            github: None,
            health: Some(&health),
            now: t(45).parse().unwrap(),
            dry_run: false,
        },
    )
    .unwrap();

    let edit = moved.recv().unwrap();
    assert!(
        report
            .log
            .iter()
            .any(|l| l.contains("fleeet/rendered moved under this run; planning again")),
        "{:?}",
        report.log
    );
    assert!(report.pushed && !report.ahead, "{:?}", report.log);
    // The step proposed is built on the new tip and keeps what landed there.
    let next = setup.tip(NEXT).unwrap();
    assert_eq!(setup.origin().parents_of(next).unwrap(), vec![edit]);
    let proposed = setup.origin().read_files(next, &["README.md"]).unwrap();
    assert!(proposed.contains_key("README.md"), "{proposed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn github_server_errors_and_rate_limits_during_reconcile_are_retried() {
    let setup = Setup::new().await;
    setup.github.fail(
        "GET",
        "/pulls",
        1,
        502,
        &[],
        json!({"message": "Server Error"}),
    );
    setup.github.fail(
        "POST",
        "/pulls",
        1,
        429,
        &[("retry-after", "1")],
        json!({"message": "You have exceeded a secondary rate limit."}),
    );
    let started = std::time::Instant::now();
    let run = setup.reconcile(&t(0), None);
    assert!(
        run.stderr().contains("created pull request #1"),
        "{}",
        run.stderr()
    );
    run.success();
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    let statuses: Vec<u16> = setup.github.requests().iter().map(|r| r.status).collect();
    assert!(
        statuses.contains(&502) && statuses.contains(&429),
        "{statuses:?}"
    );
    assert_eq!(setup.open_pulls().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn github_refusing_a_run_loses_nothing_and_the_next_run_opens_the_pull_request() {
    let setup = Setup::new().await;
    // A rate limit longer than fleeet waits: the run stops at once (5xx answers are retried
    // first, as the test above shows).
    setup.github.fail(
        "*",
        "",
        100,
        429,
        &[("retry-after", "3600")],
        json!({"message": "API rate limit exceeded"}),
    );
    let err = setup.reconcile(&t(0), None).failure(3);
    assert!(err.contains("GitHub asks to wait 3600 s"), "{err}");
    assert!(
        err.contains("hint: GitHub's rate limit is exhausted"),
        "{err}"
    );
    let pushed = setup
        .tip(NEXT)
        .expect("the wave was pushed before GitHub failed");

    setup.github.heal();
    let run = setup.reconcile(&t(5), None);
    let log = run.stderr();
    run.success();
    assert!(log.contains("fleeet/next already holds this step"), "{log}");
    assert!(log.contains("created pull request #1"), "{log}");
    assert_eq!(setup.tip(NEXT), Some(pushed));
    assert_eq!(setup.open_pulls().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pull_request_opened_meanwhile_is_updated_not_duplicated() {
    let setup = Setup::new().await;
    // Another run opens the pull request between this run's look and its create: GitHub
    // answers the create with 422 "A pull request already exists".
    setup
        .github
        .race_on_create(NEXT, RENDERED, "fleeet: another run");
    let run = setup.reconcile(&t(0), None);
    let log = run.stderr();
    run.success();
    let statuses: Vec<(String, u16)> = setup
        .github
        .requests()
        .iter()
        .map(|r| (r.line(), r.status))
        .collect();
    assert!(
        statuses.contains(&("POST /repos/acme/fleet/pulls".to_string(), 422)),
        "{statuses:?}"
    );
    assert!(log.contains("updated pull request #1"), "{log}");
    let open = setup.open_pulls();
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(
        open[0].title.starts_with("fleeet: roll out"),
        "{}",
        open[0].title
    );
}

/// The example fleet committed in `dir/fleet`, with a bare repository at `dir/remote.git`.
fn fleet_beside_a_remote(dir: &Path) -> std::path::PathBuf {
    let fleet = dir.join("fleet");
    std::fs::create_dir(&fleet).unwrap();
    for entry in walkdir::WalkDir::new(example_fleet()) {
        let entry = entry.unwrap();
        let target = fleet.join(entry.path().strip_prefix(example_fleet()).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    git(dir, &["init", "--bare", "--quiet", "remote.git"]);
    git(&fleet, &["init", "--quiet", "--initial-branch=main"]);
    git(&fleet, &["add", "."]);
    git(&fleet, &["commit", "--quiet", "-m", "The example fleet"]);
    fleet
}

/// Runs `fleeet` in `dir` with no GitHub settings.
fn fleeet_in(dir: &Path, args: &[&str]) -> Run {
    crate::support::run_in(dir, args)
}

#[test]
fn a_relative_remote_path_is_read_against_the_repository_as_git_does() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = fleet_beside_a_remote(dir.path());
    git(&fleet, &["remote", "add", "origin", "../remote.git"]);

    // From the parent of the fleet, `../remote.git` is not where it points.
    let run = fleeet_in(
        dir.path(),
        &["reconcile", "--fleet", "fleet", "--now", &t(0)],
    );
    run.success();
    let remote = Repo::open(&dir.path().join("remote.git")).unwrap();
    assert!(
        remote.resolve(RENDERED).unwrap().is_some(),
        "{}",
        run.stderr()
    );
    assert!(remote.resolve(NEXT).unwrap().is_some(), "{}", run.stderr());
    assert!(!dir.path().parent().unwrap().join("remote.git").exists());

    // And from inside it, the same remote.
    let run = fleeet_in(&fleet, &["preview", "--dry-run", "--now", &t(0)]);
    run.success();
}

#[test]
fn a_missing_origin_says_which_remote_and_how_to_name_one() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = fleet_beside_a_remote(dir.path());
    for args in [
        &["preview", "--dry-run"][..],
        &["reconcile", "--dry-run"][..],
    ] {
        let err = fleeet_in(&fleet, args).failure(2);
        assert!(
            err.contains("has no remote named \"origin\" (it has no remotes)"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("hint: name one with `git remote add origin URL`"),
            "{err}"
        );
        assert!(!err.contains("unsupported URL protocol"), "{err}");
    }
    git(&fleet, &["remote", "add", "upstream", "../remote.git"]);
    let err = fleeet_in(&fleet, &["preview", "--dry-run"]).failure(2);
    assert!(err.contains("(its remotes are upstream)"), "{err}");
    fleeet_in(&fleet, &["preview", "--dry-run", "--remote", "upstream"]).success();
}
