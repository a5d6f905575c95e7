//! The GitHub module against a fake GitHub REST API, through the real octocrab client.

use std::time::{Duration, Instant};

use fleeet::Error;
use fleeet::github::{
    Action, GitHub, MergeMethod, MergeOutcome, MergePolling, PullRequestSpec, RetryPolicy,
};
use serde_json::json;

use crate::support::github::{BOT, FakeGitHub, REPO, TOKEN};

const HEAD: &str = "fleeet/next";
const BASE: &str = "fleeet/rendered";
const WAVE_SHA: &str = "1111111111111111111111111111111111111111";
const RENDERED_SHA: &str = "2222222222222222222222222222222222222222";
const MARKER: &str = "<!-- fleeet:preview -->";

/// Fast retries and polling, so tests do not sleep.
fn client(fake: &FakeGitHub) -> GitHub {
    client_with_token(fake, TOKEN)
}

fn client_with_token(fake: &FakeGitHub, token: &str) -> GitHub {
    GitHub::new(&fake.api_url(), token, REPO)
        .unwrap()
        .with_retry(RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(1),
            max_wait: Duration::from_secs(5),
        })
        .with_merge_polling(MergePolling {
            attempts: 4,
            interval: Duration::from_millis(1),
        })
}

async fn fake_with_branches() -> FakeGitHub {
    let fake = FakeGitHub::start().await;
    fake.set_branch(HEAD, WAVE_SHA);
    fake.set_branch(BASE, RENDERED_SHA);
    fake
}

fn spec() -> PullRequestSpec {
    PullRequestSpec {
        head: HEAD.into(),
        base: BASE.into(),
        title: "fleeet: ingress 1.2.0 wave 1 of 3".into(),
        body: "## Plan\n\n- ingress 1.1.0 → 1.2.0 on 2 clusters\n".into(),
        labels: vec!["fleeet".into(), "rollout".into()],
        reviewers: vec!["alice".into(), "acme/platform".into()],
    }
}

fn lines(requests: &[crate::support::github::Recorded]) -> Vec<String> {
    requests.iter().map(|r| r.line()).collect()
}

#[tokio::test]
async fn opens_the_pull_request_then_a_second_run_writes_nothing() {
    let fake = fake_with_branches().await;
    let github = client(&fake);

    let first = github.upsert_pull_request(&spec()).await.unwrap();
    assert_eq!(first.action, Action::Created);
    assert_eq!(first.pull_request.number, 1);
    assert_eq!(first.pull_request.head_sha, WAVE_SHA);
    assert_eq!(
        first.pull_request.html_url,
        "https://github.example/acme/fleet/pull/1"
    );
    let writes = fake.writes();
    assert_eq!(
        lines(&writes),
        [
            "POST /repos/acme/fleet/pulls",
            "POST /repos/acme/fleet/issues/1/labels",
            "POST /repos/acme/fleet/pulls/1/requested_reviewers",
        ]
    );
    assert_eq!(
        writes[0].body,
        json!({"title": spec().title, "head": HEAD, "base": BASE, "body": spec().body})
    );
    assert_eq!(writes[1].body, json!({"labels": ["fleeet", "rollout"]}));
    assert_eq!(
        writes[2].body,
        json!({"reviewers": ["alice"], "team_reviewers": ["platform"]})
    );
    let list = &fake.requests()[0];
    assert!(
        list.path.contains("head=acme%3Afleeet%2Fnext") && list.path.contains("state=open"),
        "{}",
        list.path
    );
    assert!(fake.requests().iter().all(|r| r.authorized));

    fake.clear_requests();
    let second = github.upsert_pull_request(&spec()).await.unwrap();
    assert_eq!(second.action, Action::Unchanged);
    assert_eq!(second.pull_request, first.pull_request);
    assert_eq!(fake.writes().len(), 0, "{:?}", fake.writes());
    assert_eq!(fake.pulls().len(), 1);
}

#[tokio::test]
async fn updates_only_what_differs_on_the_open_pull_request() {
    let fake = fake_with_branches().await;
    let number = fake.open_pull(HEAD, BASE, &spec().title, "old plan");
    fake.edit_pull(number, |pull| {
        pull.labels = vec!["FLEEET".into(), "hotfix".into()];
        pull.requested_reviewers = vec!["alice".into()];
        pull.requested_teams = vec!["platform".into()];
    });
    let github = client(&fake);

    let outcome = github.upsert_pull_request(&spec()).await.unwrap();
    assert_eq!(outcome.action, Action::Updated);
    assert_eq!(outcome.pull_request.number, number);
    assert_eq!(outcome.pull_request.body, spec().body);
    let writes = fake.writes();
    assert_eq!(
        lines(&writes),
        [
            "PATCH /repos/acme/fleet/pulls/1",
            "POST /repos/acme/fleet/issues/1/labels",
        ]
    );
    assert_eq!(writes[0].body, json!({"body": spec().body}));
    assert_eq!(writes[1].body, json!({"labels": ["rollout"]}));
    let pull = fake.pull(number);
    assert_eq!(pull.labels, ["FLEEET", "hotfix", "rollout"]);
    assert_eq!(fake.pulls().len(), 1);
}

#[tokio::test]
async fn ignores_closed_pull_requests_and_other_bases() {
    let fake = fake_with_branches().await;
    fake.set_branch("main", RENDERED_SHA);
    let closed = fake.open_pull(HEAD, BASE, "old wave", "");
    fake.edit_pull(closed, |pull| pull.open = false);
    fake.open_pull(HEAD, "main", "someone else's", "");

    let outcome = client(&fake).upsert_pull_request(&spec()).await.unwrap();
    assert_eq!(outcome.action, Action::Created);
    assert_eq!(outcome.pull_request.number, 3);
    assert!(!fake.pull(closed).open);
}

#[tokio::test]
async fn reviewers_who_reviewed_the_head_are_not_asked_again_until_it_moves() {
    let fake = fake_with_branches().await;
    let number = fake.open_pull(HEAD, BASE, &spec().title, &spec().body);
    fake.edit_pull(number, |pull| {
        pull.labels = vec!["fleeet".into(), "rollout".into()]
    });
    // Their requests ended when they reviewed the current head.
    fake.add_review(number, "Alice", WAVE_SHA);
    let github = client(&fake);
    let spec = PullRequestSpec {
        reviewers: vec!["alice".into(), "acme/platform".into(), BOT.into()],
        ..spec()
    };

    let outcome = github.upsert_pull_request(&spec).await.unwrap();
    assert_eq!(outcome.action, Action::Unchanged);
    assert!(fake.writes().is_empty(), "{:?}", fake.writes());
    assert!(lines(&fake.requests()).contains(&"GET /repos/acme/fleet/pulls/1/reviews".to_owned()));

    // A new wave is pushed: the review was of the previous one.
    fake.set_branch(HEAD, "3333333333333333333333333333333333333333");
    let outcome = github.upsert_pull_request(&spec).await.unwrap();
    assert_eq!(outcome.action, Action::Updated);
    let writes = fake.writes();
    assert_eq!(
        lines(&writes),
        ["POST /repos/acme/fleet/pulls/1/requested_reviewers"]
    );
    // Never the author: GitHub refuses that.
    assert_eq!(
        writes[0].body,
        json!({"reviewers": ["alice"], "team_reviewers": ["platform"]})
    );
}

#[tokio::test]
async fn a_pull_request_opened_by_a_concurrent_run_is_updated_not_duplicated() {
    let fake = fake_with_branches().await;
    fake.race_on_create(HEAD, BASE, "the other run's title");

    let outcome = client(&fake).upsert_pull_request(&spec()).await.unwrap();
    assert_eq!(outcome.action, Action::Updated);
    assert_eq!(outcome.pull_request.number, 1);
    assert_eq!(fake.pulls().len(), 1);
    let requests = fake.requests();
    assert_eq!(
        requests
            .iter()
            .map(|r| format!("{} {}", r.line(), r.status))
            .collect::<Vec<_>>(),
        [
            "GET /repos/acme/fleet/pulls 200",
            "POST /repos/acme/fleet/pulls 422",
            "GET /repos/acme/fleet/pulls 200",
            "PATCH /repos/acme/fleet/pulls/1 200",
            "POST /repos/acme/fleet/issues/1/labels 200",
            "GET /repos/acme/fleet/pulls/1/reviews 200",
            "POST /repos/acme/fleet/pulls/1/requested_reviewers 201",
        ]
    );
    assert_eq!(
        requests[3].body,
        json!({"title": spec().title, "body": spec().body})
    );
    assert_eq!(fake.pull(1).title, spec().title);
}

#[tokio::test]
async fn other_validation_errors_are_explained() {
    let fake = FakeGitHub::start().await;
    fake.set_branch(BASE, RENDERED_SHA);

    let error = client(&fake)
        .upsert_pull_request(&spec())
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(
            "GitHub could not open a pull request from fleeet/next into fleeet/rendered of acme/fleet: \
             422 Unprocessable Entity: Validation Failed: PullRequest.head is invalid"
        ),
        "{message}"
    );
    assert!(
        message.contains("https://docs.github.com/rest/pulls"),
        "{message}"
    );
    assert_eq!(error.exit_code(), fleeet::error::EXIT_FAILURE);
    assert_eq!(fake.pulls().len(), 0);
}

#[tokio::test]
async fn closing_comments_why_then_closes() {
    let fake = fake_with_branches().await;
    let number = fake.open_pull(HEAD, BASE, "wave", "plan");
    let github = client(&fake);

    let found = github.find_pull_request(HEAD, BASE).await.unwrap().unwrap();
    assert_eq!(found.number, number);
    github
        .close_pull_request(number, "Nothing to roll out any more.")
        .await
        .unwrap();
    let writes = fake.writes();
    assert_eq!(
        lines(&writes),
        [
            "POST /repos/acme/fleet/issues/1/comments",
            "PATCH /repos/acme/fleet/pulls/1",
        ]
    );
    assert_eq!(
        writes[0].body,
        json!({"body": "Nothing to roll out any more."})
    );
    assert_eq!(writes[1].body, json!({"state": "closed"}));
    assert!(!fake.pull(number).open);
    assert_eq!(github.find_pull_request(HEAD, BASE).await.unwrap(), None);
}

#[tokio::test]
async fn merges_at_the_expected_head_once_github_has_decided() {
    let fake = fake_with_branches().await;
    let number = fake.open_pull(HEAD, BASE, "wave", "plan");
    fake.edit_pull(number, |pull| pull.undecided_reads = 2);

    let outcome = client(&fake)
        .merge_when_mergeable(number, WAVE_SHA, MergeMethod::Merge)
        .await
        .unwrap();
    let MergeOutcome::Merged { sha } = outcome else {
        panic!("not merged: {outcome:?}");
    };
    assert_eq!(fake.branch(BASE), Some(sha));
    assert_eq!(
        lines(&fake.requests()),
        [
            "GET /repos/acme/fleet/pulls/1",
            "GET /repos/acme/fleet/pulls/1",
            "GET /repos/acme/fleet/pulls/1",
            "PUT /repos/acme/fleet/pulls/1/merge",
        ]
    );
    assert_eq!(
        fake.writes()[0].body,
        json!({"sha": WAVE_SHA, "merge_method": "merge"})
    );
}

#[tokio::test]
async fn does_not_merge_a_moved_head_or_an_unmergeable_pull_request() {
    let fake = fake_with_branches().await;
    let number = fake.open_pull(HEAD, BASE, "wave", "plan");
    let github = client(&fake);

    let moved = github
        .merge_when_mergeable(number, RENDERED_SHA, MergeMethod::Merge)
        .await
        .unwrap();
    assert_eq!(
        moved,
        MergeOutcome::HeadMoved {
            expected: RENDERED_SHA.into(),
            actual: WAVE_SHA.into()
        }
    );

    fake.edit_pull(number, |pull| {
        pull.mergeable = Some(false);
        pull.mergeable_state = "dirty".into();
    });
    let conflicted = github
        .merge_when_mergeable(number, WAVE_SHA, MergeMethod::Merge)
        .await
        .unwrap();
    assert_eq!(
        conflicted,
        MergeOutcome::NotMergeable {
            reason: "it conflicts with the base branch".into()
        }
    );

    fake.edit_pull(number, |pull| pull.undecided_reads = 100);
    let undecided = github
        .merge_when_mergeable(number, WAVE_SHA, MergeMethod::Merge)
        .await
        .unwrap();
    assert!(
        matches!(&undecided, MergeOutcome::NotMergeable { reason } if reason.contains("not finished")),
        "{undecided:?}"
    );
    assert!(fake.writes().is_empty(), "{:?}", fake.writes());
    assert!(fake.pull(number).open);
}

#[tokio::test]
async fn a_head_that_moves_between_the_check_and_the_merge_is_not_merged() {
    let fake = fake_with_branches().await;
    let number = fake.open_pull(HEAD, BASE, "wave", "plan");
    let pushed = "4444444444444444444444444444444444444444";
    fake.push_before_merge(HEAD, pushed);

    let outcome = client(&fake)
        .merge_when_mergeable(number, WAVE_SHA, MergeMethod::Squash)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        MergeOutcome::HeadMoved {
            expected: WAVE_SHA.into(),
            actual: pushed.into()
        }
    );
    let requests = fake.requests();
    assert_eq!(
        requests
            .iter()
            .map(|r| format!("{} {}", r.line(), r.status))
            .collect::<Vec<_>>(),
        [
            "GET /repos/acme/fleet/pulls/1 200",
            "PUT /repos/acme/fleet/pulls/1/merge 409",
            "GET /repos/acme/fleet/pulls/1 200",
        ]
    );
    assert_eq!(
        requests[1].body,
        json!({"sha": WAVE_SHA, "merge_method": "squash"})
    );
    assert!(fake.pull(number).open);
    assert_eq!(fake.branch(BASE).as_deref(), Some(RENDERED_SHA));
}

#[tokio::test]
async fn the_preview_comment_is_created_once_then_updated_in_place() {
    let fake = FakeGitHub::start_enterprise().await;
    // 150 comments by people first: the marker's comment is on the second page.
    for n in 0..150 {
        fake.add_comment(7, "someone", &format!("comment {n}"));
    }
    let github = client(&fake);

    let created = github
        .upsert_comment(7, MARKER, "3 clusters change")
        .await
        .unwrap();
    assert_eq!(created.action, Action::Created);
    assert_eq!(
        fake.comments(7).last().unwrap().1,
        format!("{MARKER}\n3 clusters change")
    );

    fake.clear_requests();
    let again = github
        .upsert_comment(7, MARKER, "3 clusters change")
        .await
        .unwrap();
    assert_eq!(again.action, Action::Unchanged);
    assert_eq!(again.id, created.id);
    assert!(fake.writes().is_empty(), "{:?}", fake.writes());
    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(paths[1].contains("page=2"), "{paths:?}");

    let updated = github
        .upsert_comment(7, MARKER, "5 clusters change")
        .await
        .unwrap();
    assert_eq!(updated.action, Action::Updated);
    assert_eq!(updated.id, created.id);
    assert_eq!(
        lines(&fake.writes()),
        [format!(
            "PATCH /repos/acme/fleet/issues/comments/{}",
            created.id
        )]
    );
    let comments = fake.comments(7);
    assert_eq!(comments.len(), 151);
    assert_eq!(comments[150].1, format!("{MARKER}\n5 clusters change"));
    assert_eq!(comments[0].1, "comment 0");
    // Every request went under the enterprise path prefix.
    assert!(fake.requests().iter().all(|r| r.status < 400));
}

#[tokio::test]
async fn a_comment_marker_must_be_a_hidden_html_comment() {
    let fake = FakeGitHub::start().await;
    let error = client(&fake)
        .upsert_comment(7, "", "body")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Usage { .. }), "{error:?}");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_honouring_retry_after() {
    let fake = fake_with_branches().await;
    fake.fail(
        "*",
        "/pulls",
        1,
        502,
        &[],
        json!({"message": "Server Error"}),
    );
    fake.fail(
        "POST",
        "/pulls",
        1,
        403,
        &[("retry-after", "1")],
        json!({"message": "You have exceeded a secondary rate limit.",
               "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}),
    );
    let started = Instant::now();

    let outcome = client(&fake).upsert_pull_request(&spec()).await.unwrap();
    assert_eq!(outcome.action, Action::Created);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    let statuses: Vec<String> = fake
        .requests()
        .iter()
        .take(4)
        .map(|r| format!("{} {}", r.line(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            "GET /repos/acme/fleet/pulls 502",
            "GET /repos/acme/fleet/pulls 200",
            "POST /repos/acme/fleet/pulls 403",
            "POST /repos/acme/fleet/pulls 201",
        ]
    );
    assert_eq!(fake.pulls().len(), 1);
}

#[tokio::test]
async fn an_exhausted_rate_limit_is_retried_after_it_resets() {
    let fake = fake_with_branches().await;
    let reset = (jiff::Timestamp::now().as_second() - 5).to_string();
    fake.fail(
        "GET",
        "/comments",
        1,
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ],
        json!({"message": "API rate limit exceeded for installation ID 1."}),
    );
    fake.fail(
        "GET",
        "/comments",
        1,
        429,
        &[],
        json!({"message": "Too Many Requests"}),
    );

    let outcome = client(&fake).upsert_comment(3, MARKER, "x").await.unwrap();
    assert_eq!(outcome.action, Action::Created);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [403, 429, 200, 201]);
}

#[tokio::test]
async fn a_persistent_server_error_ends_in_a_clear_error() {
    let fake = fake_with_branches().await;
    fake.fail(
        "*",
        "",
        100,
        500,
        &[],
        json!({"message": "Internal failure", "documentation_url": "https://docs.github.com/rest"}),
    );

    let error = client(&fake)
        .upsert_pull_request(&spec())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "GitHub could not list the open pull requests from fleeet/next into fleeet/rendered of \
         acme/fleet: 500 Internal Server Error: Internal failure (see https://docs.github.com/rest) \
         (gave up after 2 retries)"
    );
    assert_eq!(error.hint(), Some("GitHub is failing; run again later"));
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_maximum_wait_stops_at_once() {
    let fake = fake_with_branches().await;
    fake.fail(
        "*",
        "",
        1,
        429,
        &[("retry-after", "3600")],
        json!({"message": "slow down"}),
    );

    let error = client(&fake)
        .upsert_pull_request(&spec())
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("GitHub asks to wait 3600 s, longer than the 5 s fleeet waits"),
        "{error}"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_refusal_is_not_retried_and_hints_at_permissions() {
    let fake = fake_with_branches().await;
    fake.fail(
        "POST",
        "/pulls",
        1,
        403,
        &[],
        json!({"message": "Resource not accessible by integration"}),
    );

    let error = client(&fake)
        .upsert_pull_request(&spec())
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("403 Forbidden: Resource not accessible by integration")
    );
    assert!(error.hint().unwrap().contains("pull-requests: write"));
    assert_eq!(fake.writes().len(), 1);
}

#[tokio::test]
async fn the_token_never_appears_in_errors() {
    let fake = fake_with_branches().await;
    let wrong = "ghp_NeverPrintThis0123456789";
    let github = client(&fake);
    let mut errors: Vec<Error> = Vec::new();

    // A rejected token.
    let rejected = client_with_token(&fake, wrong);
    errors.push(rejected.upsert_pull_request(&spec()).await.unwrap_err());
    assert!(
        errors[0]
            .to_string()
            .contains("401 Unauthorized: Bad credentials")
    );
    // Server errors, a validation error and an answer of an unexpected shape.
    fake.fail("*", "", 3, 503, &[], json!({"message": "unavailable"}));
    errors.push(github.upsert_comment(1, MARKER, "x").await.unwrap_err());
    fake.set_branch(HEAD, RENDERED_SHA);
    errors.push(github.upsert_pull_request(&spec()).await.unwrap_err());
    assert!(
        errors[2].to_string().contains("No commits between"),
        "{}",
        errors[2]
    );
    fake.fail("GET", "/pulls", 1, 200, &[], json!({"unexpected": true}));
    errors.push(github.find_pull_request(HEAD, BASE).await.unwrap_err());
    // Nobody answering.
    let address = fake.api_url();
    drop(fake);
    errors.push(github.find_pull_request(HEAD, BASE).await.unwrap_err());
    assert!(
        errors[4]
            .to_string()
            .starts_with("could not reach GitHub at http://127.0.0.1:"),
        "{}",
        errors[4]
    );

    for error in &errors {
        let shown = format!("{error} {error:?} {:?}", error.hint());
        assert!(!shown.contains(TOKEN) && !shown.contains(wrong), "{shown}");
    }
    let shown = format!("{github:?} {rejected:?}");
    assert!(shown.contains(&address) && shown.contains(REPO), "{shown}");
    assert!(!shown.contains(TOKEN) && !shown.contains(wrong), "{shown}");
}
