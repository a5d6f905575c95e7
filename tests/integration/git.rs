//! The git edge against a real smart-HTTP server (git's own receive-pack): tokens, fetches, and
//! pushes with a lease, including one that loses a race after the lease was checked.

use fleeet::git::{Auth, Identity, PushOutcome, Repo};
use fleeet::layout::Files;
use git2::Oid;

use crate::support::git_http::{GitServer, base64};

const TOKEN: &str = "ghs_test-token-0123456789";

/// A folder with the bare repository `fleet.git`, served over HTTP.
struct Remote {
    dir: tempfile::TempDir,
    server: GitServer,
    url: String,
}

impl Remote {
    fn start(token: Option<&str>) -> Remote {
        let dir = tempfile::tempdir().unwrap();
        Repo::init_bare(&dir.path().join("fleet.git")).unwrap();
        let server = GitServer::start(dir.path(), token);
        let url = server.url("fleet.git");
        Remote { dir, server, url }
    }

    fn path(&self) -> String {
        self.dir
            .path()
            .join("fleet.git")
            .to_str()
            .unwrap()
            .to_string()
    }

    fn repo(&self) -> Repo {
        Repo::open(&self.dir.path().join("fleet.git")).unwrap()
    }

    fn pushes(&self) -> usize {
        let requests = self.server.requests();
        requests
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/git-receive-pack"))
            .count()
    }
}

fn local() -> (tempfile::TempDir, Repo) {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::init(dir.path()).unwrap();
    (dir, repo)
}

fn commit(repo: &Repo, parents: &[Oid], content: &str, second: i64) -> Oid {
    let files: Files = [("clusters/a/ingress.yaml".to_string(), content.into())].into();
    let tree = repo.write_tree(&files).unwrap();
    let identity = Identity {
        name: "fleeet".into(),
        email: "fleeet@example.com".into(),
        time: jiff::Timestamp::from_second(second).unwrap(),
    };
    repo.commit(parents, tree, "test", &identity).unwrap()
}

#[test]
fn pushes_and_fetches_over_https_style_auth_with_a_token() {
    let remote = Remote::start(Some(TOKEN));
    let auth = Auth::token(TOKEN);
    let (_dir, repo) = local();
    let first = commit(&repo, &[], "1", 1);

    let outcome = repo.push_with_lease(&remote.url, first, "fleeet/next", None, &auth);
    assert_eq!(outcome.unwrap(), PushOutcome::Pushed);
    assert_eq!(remote.repo().resolve("fleeet/next").unwrap(), Some(first));

    let (_dir, other) = local();
    assert_eq!(
        other
            .fetch_branch(&remote.url, "fleeet/next", &auth)
            .unwrap(),
        Some(first)
    );
    assert_eq!(
        other
            .fetch_branch(&remote.url, "fleeet/rendered", &auth)
            .unwrap(),
        None
    );
    let second = commit(&other, &[first], "2", 2);
    let outcome = other.push_with_lease(&remote.url, second, "fleeet/next", Some(first), &auth);
    assert_eq!(outcome.unwrap(), PushOutcome::Pushed);
    assert_eq!(remote.repo().resolve("fleeet/next").unwrap(), Some(second));

    // The token went as the password of x-access-token, and only after the server asked.
    let basic = format!("Basic {}", base64(&format!("x-access-token:{TOKEN}")));
    let requests = remote.server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.authorization.as_deref() == Some(basic.as_str()))
    );
    assert!(
        requests.iter().all(
            |r| r.authorization.is_none() || r.authorization.as_deref() == Some(basic.as_str())
        )
    );
}

#[test]
fn a_refused_token_is_an_error_that_does_not_show_it() {
    let remote = Remote::start(Some(TOKEN));
    let (_dir, repo) = local();
    let wrong = Auth::token("ghs_wrong-secret");
    let id = commit(&repo, &[], "1", 1);

    let fetch = repo
        .fetch_branch(&remote.url, "fleeet/next", &wrong)
        .unwrap_err();
    let push = repo
        .push_with_lease(&remote.url, id, "fleeet/next", None, &wrong)
        .unwrap_err();
    for error in [fetch, push] {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("wrong-secret"), "{shown}");
        assert!(shown.contains(&remote.url), "{shown}");
        assert_eq!(error.exit_code(), fleeet::error::EXIT_FAILURE);
    }
    assert_eq!(format!("{wrong:?}"), "Auth { token: Some(\"<token>\") }");
    assert_eq!(remote.repo().resolve("fleeet/next").unwrap(), None);

    let anonymous = repo.fetch_branch(&remote.url, "fleeet/next", &Auth::none());
    assert!(anonymous.is_err());
}

#[test]
fn a_lease_the_advertisement_contradicts_sends_nothing() {
    let remote = Remote::start(None);
    let (_dir, repo) = local();
    let first = commit(&repo, &[], "1", 1);
    let second = commit(&repo, &[first], "2", 2);
    let auth = Auth::none();
    repo.push_with_lease(&remote.url, first, "fleeet/next", None, &auth)
        .unwrap();
    let pushes = remote.pushes();

    for expected in [None, Some(second)] {
        let outcome = repo.push_with_lease(&remote.url, second, "fleeet/next", expected, &auth);
        let Ok(PushOutcome::Rejected { reason }) = outcome else {
            panic!("expected a lost lease, got {outcome:?}");
        };
        assert!(reason.contains("another run is ahead"), "{reason}");
    }
    assert_eq!(remote.pushes(), pushes, "no push was sent");
    assert_eq!(remote.repo().resolve("fleeet/next").unwrap(), Some(first));
}

#[test]
fn a_push_that_lands_after_our_lease_was_checked_makes_ours_fail_not_theirs() {
    let remote = Remote::start(None);
    let auth = Auth::none();
    let (_dir, a) = local();
    let base = commit(&a, &[], "0", 1);
    a.push_with_lease(&remote.url, base, "fleeet/next", None, &auth)
        .unwrap();
    let (_dir, b) = local();
    assert_eq!(
        b.fetch_branch(&remote.url, "fleeet/next", &auth).unwrap(),
        Some(base)
    );

    // Both read `base`. B's push checks its lease against the refs the server advertised, then
    // A's push lands before the server handles B's.
    let theirs = commit(&a, &[base], "a", 2);
    let ours = commit(&b, &[base], "b", 3);
    let path = remote.path();
    let (sender, landed) = std::sync::mpsc::channel();
    remote.server.before_next_push(move || {
        sender
            .send(a.push_with_lease(&path, theirs, "fleeet/next", Some(base), &Auth::none()))
            .unwrap();
    });

    let outcome = b.push_with_lease(&remote.url, ours, "fleeet/next", Some(base), &auth);
    assert_eq!(landed.recv().unwrap().unwrap(), PushOutcome::Pushed);
    let Ok(PushOutcome::Rejected { reason }) = outcome else {
        panic!("expected the server to refuse, got {outcome:?}");
    };
    assert!(reason.contains("the remote refused"), "{reason}");
    assert_eq!(remote.repo().resolve("fleeet/next").unwrap(), Some(theirs));
}

#[test]
fn a_branch_created_after_our_lease_was_checked_is_not_overwritten() {
    let remote = Remote::start(None);
    let auth = Auth::none();
    let (_dir, a) = local();
    let theirs = commit(&a, &[], "a", 1);
    let (_dir, b) = local();
    let ours = commit(&b, &[], "b", 2);
    let path = remote.path();
    remote.server.before_next_push(move || {
        a.push_with_lease(&path, theirs, "fleeet/next", None, &Auth::none())
            .unwrap();
    });

    let outcome = b
        .push_with_lease(&remote.url, ours, "fleeet/next", None, &auth)
        .unwrap();
    assert!(
        matches!(outcome, PushOutcome::Rejected { .. }),
        "{outcome:?}"
    );
    assert_eq!(remote.repo().resolve("fleeet/next").unwrap(), Some(theirs));
}

/// actions/checkout makes a shallow clone of the fleet repository by default; the rendered
/// branch is fetched into it with its whole history, which gives the wave times.
#[test]
fn fetches_the_rendered_branch_with_its_history_into_a_shallow_checkout() {
    let remote = Remote::start(None);
    let (_dir, writer) = local();
    let first = commit(&writer, &[], "1", 1);
    let rendered = commit(&writer, &[first], "2", 2);
    writer
        .push_with_lease(
            &remote.path(),
            rendered,
            "fleeet/rendered",
            None,
            &Auth::none(),
        )
        .unwrap();
    let fleet = commit(&writer, &[], "fleet", 3);
    let main = commit(&writer, &[fleet], "fleet 2", 4);
    writer
        .push_with_lease(&remote.path(), main, "main", None, &Auth::none())
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let checkout = dir.path().join("fleet");
    let cloned = std::process::Command::new("git")
        .args([
            "clone",
            "--quiet",
            "--depth=1",
            "--branch=main",
            &remote.url,
        ])
        .arg(&checkout)
        .status()
        .unwrap();
    assert!(cloned.success());
    let repo = Repo::open(&checkout).unwrap();
    assert_eq!(
        repo.resolve(&fleet.to_string()).unwrap(),
        None,
        "the clone is shallow"
    );

    let tip = repo
        .fetch_branch(&remote.url, "fleeet/rendered", &Auth::none())
        .unwrap();
    assert_eq!(tip, Some(rendered));
    let path = "clusters/a/ingress.yaml".to_string();
    let landed = repo
        .last_changed(rendered, &[(path.clone(), true)].into())
        .unwrap();
    assert_eq!(landed[&path], jiff::Timestamp::from_second(2).unwrap());
    assert_eq!(
        repo.since(rendered, &path, |text| text.is_some()).unwrap(),
        Some(jiff::Timestamp::from_second(1).unwrap())
    );
}
