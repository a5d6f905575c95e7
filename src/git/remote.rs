//! Fetching a branch and pushing one with a lease (see the module documentation).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::path::{Path, PathBuf};

use git2::{
    AutotagOption, Cred, CredentialType, ErrorCode, FetchOptions, Oid, PushOptions,
    RemoteCallbacks, Repository,
};
use sha2::{Digest, Sha256};

use super::{Repo, git_error, pack};
use crate::Error;

/// How fleeet authenticates to a remote over HTTPS. The token is never shown: not in errors,
/// not in `Debug` output.
#[derive(Clone, Default)]
pub struct Auth {
    token: Option<String>,
}

/// What a push with a lease did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// The remote branch points at the pushed commit now.
    Pushed,
    /// Nothing changed on the remote. Either the branch was no longer at the expected commit
    /// (another run is ahead: fetch and plan again), or the remote refused the update (branch
    /// protection, a hook): then a new fetch finds the branch where it was, and `reason` says why.
    Rejected { reason: String },
}

/// Where a remote is, and the name of its namespace under `refs/fleeet/remotes/`.
struct Target {
    url: String,
    namespace: String,
}

impl Auth {
    /// No credentials: public or local remotes.
    pub fn none() -> Auth {
        Auth::default()
    }

    /// An access token (such as `GITHUB_TOKEN`), sent as the password of the user
    /// `x-access-token` when the remote asks for credentials.
    pub fn token(token: impl Into<String>) -> Auth {
        Auth {
            token: Some(token.into()).filter(|t| !t.is_empty()),
        }
    }

    /// Callbacks that answer the remote's request for credentials once; a second request means
    /// the token was refused.
    fn callbacks(&self) -> RemoteCallbacks<'_> {
        let mut callbacks = RemoteCallbacks::new();
        if let Some(token) = &self.token {
            let mut asked = false;
            callbacks.credentials(move |_url, _user, allowed| {
                if asked || !allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
                    return Err(git2::Error::from_str("the remote refused the token"));
                }
                asked = true;
                Cred::userpass_plaintext("x-access-token", token)
            });
        }
        callbacks
    }

    /// An [`Error::Git`] for `error` in `context`, with the token taken out of the message.
    fn error(&self, context: &str, error: git2::Error) -> Error {
        let mut message = error.message().to_string();
        if let Some(token) = &self.token {
            message = message.replace(token.as_str(), "<token>");
        }
        Error::Git {
            context: context.to_string(),
            message,
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = self.token.as_ref().map(|_| "<token>");
        f.debug_struct("Auth").field("token", &token).finish()
    }
}

impl Repo {
    /// Fetches `branch` (and the history it needs) from `remote`, a configured remote's name or
    /// a URL (HTTPS, a path, `file://`), into `refs/fleeet/remotes/<remote>/<branch>` (for a
    /// URL, `<remote>` is `url-` and a hash of it), and returns its tip; `None` if the remote
    /// has no such branch. Touches no other ref (libgit2 leaves an empty `FETCH_HEAD`).
    pub fn fetch_branch(
        &self,
        remote: &str,
        branch: &str,
        auth: &Auth,
    ) -> Result<Option<Oid>, Error> {
        let head = branch_ref(branch)?;
        let target = self.target(remote, false)?;
        let context = format!("fetching {branch} from {}", shown(&target.url));
        let tracking = format!("refs/fleeet/remotes/{}/{branch}", target.namespace);
        let mut connection = self
            .repo
            .remote_anonymous(&target.url)
            .map_err(|e| auth.error(&context, e))?;
        let mut options = FetchOptions::new();
        options
            .remote_callbacks(auth.callbacks())
            .download_tags(AutotagOption::None)
            .update_fetchhead(false);
        let refspec = format!("+{head}:{tracking}");
        let mut attempts = 0;
        // Another run in the same repository may hold the tracking ref's lock for a moment.
        while let Err(e) = connection.fetch(&[refspec.as_str()], Some(&mut options), None) {
            if !lock_taken(&e) || attempts == 50 {
                return Err(auth.error(&context, e));
            }
            attempts += 1;
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let tip = connection
            .list()
            .map_err(|e| auth.error(&context, e))?
            .iter()
            .find(|advertised| advertised.name() == head)
            .map(|advertised| advertised.oid());
        if tip.is_none() {
            // The branch is gone from the remote: forget what an earlier fetch saw.
            if let Ok(mut stale) = self.repo.find_reference(&tracking) {
                stale.delete().map_err(|e| auth.error(&context, e))?;
            }
        }
        Ok(tip)
    }

    /// Makes `branch` on `remote` point at `local` if it still points at `expected` there
    /// (`None`: if it does not exist yet); otherwise changes nothing and returns
    /// [`PushOutcome::Rejected`]. The commit and the history it needs are sent along.
    pub fn push_with_lease(
        &self,
        remote: &str,
        local: Oid,
        branch: &str,
        expected: Option<Oid>,
        auth: &Auth,
    ) -> Result<PushOutcome, Error> {
        let head = branch_ref(branch)?;
        let target = self.target(remote, true)?;
        let context = format!("pushing {branch} to {}", shown(&target.url));
        if let Some(path) = local_path(&target.url) {
            return self.push_to_path(&path, local, &head, expected, &context);
        }

        let mut connection = self
            .repo
            .remote_anonymous(&target.url)
            .map_err(|e| auth.error(&context, e))?;
        // What the remote advertised for the branch, when that is not what was expected.
        let moved: Cell<Option<Option<Oid>>> = Cell::new(None);
        let refused: RefCell<Option<String>> = RefCell::new(None);
        let mut callbacks = auth.callbacks();
        callbacks.push_negotiation(|updates| {
            for update in updates
                .iter()
                .filter(|u| u.dst_refname() == Ok(head.as_str()))
            {
                // `src` is the remote's current id, as advertised; `dst` the new one.
                let advertised = Some(update.src()).filter(|id| !id.is_zero());
                if advertised != expected {
                    moved.set(Some(advertised));
                    return Err(git2::Error::from_str("the remote branch moved"));
                }
            }
            Ok(())
        });
        callbacks.push_update_reference(|_name, status| {
            if let Some(status) = status {
                *refused.borrow_mut() = Some(status.to_string());
            }
            Ok(())
        });
        let mut options = PushOptions::new();
        options
            .remote_callbacks(callbacks)
            .packbuilder_parallelism(0);
        let pushed = connection.push(&[format!("+{local}:{head}")], Some(&mut options));
        drop(options);

        if let Some(advertised) = moved.get() {
            return Ok(lease_lost(&head, advertised, expected));
        }
        pushed.map_err(|e| auth.error(&context, e))?;
        match refused.into_inner() {
            Some(status) => Ok(PushOutcome::Rejected {
                reason: format!("the remote refused to update {head}: {status}"),
            }),
            None => Ok(PushOutcome::Pushed),
        }
    }

    /// [`Repo::push_with_lease`] to the bare repository at `path`: the objects are copied as a
    /// pack, then the ref is moved with a compare-and-swap under the repository's ref lock.
    fn push_to_path(
        &self,
        path: &Path,
        local: Oid,
        head: &str,
        expected: Option<Oid>,
        context: &str,
    ) -> Result<PushOutcome, Error> {
        let failed = |e: git2::Error| git_error(context, e);
        let remote = Repository::open(path).map_err(failed)?;
        if !remote.is_bare() {
            return Err(Error::Git {
                context: context.to_string(),
                message: "fleeet pushes only to bare repositories".into(),
            });
        }
        let current = match remote.refname_to_id(head) {
            Ok(id) => Some(id),
            Err(e) if e.code() == ErrorCode::NotFound => None,
            Err(e) => return Err(failed(e)),
        };
        if current != expected {
            return Ok(lease_lost(head, current, expected));
        }

        let mut walk = self.repo.revwalk().map_err(failed)?;
        walk.push(local).map_err(failed)?;
        for reference in remote.references().map_err(failed)? {
            let tip = reference.map_err(failed)?.target();
            if let Some(tip) = tip.filter(|&id| self.repo.find_commit(id).is_ok()) {
                walk.hide(tip).map_err(failed)?;
            }
        }
        let new = walk.collect::<Result<Vec<_>, _>>().map_err(failed)?;
        let objects = pack::changed_objects(&self.repo, &new).map_err(failed)?;
        pack::copy_as_pack(&self.repo, &objects, &remote)?;

        match swap(&remote, head, local, expected) {
            Ok(_) => Ok(PushOutcome::Pushed),
            Err(e)
                if matches!(
                    e.code(),
                    ErrorCode::Modified | ErrorCode::Exists | ErrorCode::NotFound
                ) =>
            {
                let now = remote.refname_to_id(head).ok();
                Ok(lease_lost(head, now, expected))
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// The URL of `remote`, a configured remote's name (its push URL when pushing) or a URL.
    fn target(&self, remote: &str, push: bool) -> Result<Target, Error> {
        let configured = git2::Remote::is_valid_name(remote)
            .then(|| self.repo.find_remote(remote).ok())
            .flatten();
        let Some(configured) = configured else {
            if !remote.contains(['/', ':', '\\']) && !Path::new(remote).exists() {
                return Err(self.no_such_remote(remote));
            }
            let digest = hex::encode(Sha256::digest(remote.as_bytes()));
            return Ok(Target {
                url: remote.to_string(),
                namespace: format!("url-{}", &digest[..16]),
            });
        };
        let url = match push {
            true => configured.pushurl().ok().flatten(),
            false => None,
        };
        let url = url
            .or_else(|| configured.url().ok())
            .ok_or_else(|| Error::Git {
                context: format!("reading the URL of the remote {remote}"),
                message: "the remote has no URL that is UTF-8 text".into(),
            })?;
        Ok(Target {
            url: self.resolve_local(url),
            namespace: remote.to_string(),
        })
    }

    /// A configured remote's `url`, with a relative local path resolved against the top of the
    /// work tree (the repository itself when bare), as git resolves it.
    fn resolve_local(&self, url: &str) -> String {
        if !is_local_path(url) || Path::new(url).is_absolute() {
            return url.to_string();
        }
        let top = self.repo.workdir().unwrap_or_else(|| self.repo.path());
        top.join(url).to_string_lossy().into_owned()
    }

    /// The error for a remote name that the repository does not configure.
    fn no_such_remote(&self, remote: &str) -> Error {
        let names = self.repo.remotes().ok();
        let names: Vec<&str> = names
            .iter()
            .flat_map(|n| n.iter().flatten().flatten())
            .collect();
        let top = self.repo.workdir().unwrap_or_else(|| self.repo.path());
        let known = match names.as_slice() {
            [] => "it has no remotes".to_string(),
            names => format!("its remotes are {}", names.join(", ")),
        };
        Error::Usage {
            message: format!(
                "the git repository at {} has no remote named {remote:?} ({known})",
                top.display()
            ),
            hint: Some(format!(
                "name one with `git remote add {remote} URL`, or pass --remote with another remote's name or a URL"
            )),
        }
    }
}

/// Whether `url` is a local path as git reads remote URLs: no `scheme://`, and no `host:` before
/// the first `/` (which would make it an scp-like SSH address such as `git@host:org/repo`).
fn is_local_path(url: &str) -> bool {
    if url.contains("://") {
        return false;
    }
    match (url.find(':'), url.find('/')) {
        (Some(colon), Some(slash)) => slash < colon,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Moves `head` of `remote` from `expected` to `local` under the ref's lock. The lock is held
/// only while a ref is written; like git (`core.filesRefLockTimeout`), wait a moment for it.
fn swap(
    remote: &Repository,
    head: &str,
    local: Oid,
    expected: Option<Oid>,
) -> Result<(), git2::Error> {
    let message = "fleeet: push with lease";
    let mut attempts = 0;
    loop {
        let swapped = match expected {
            Some(old) => remote.reference_matching(head, local, true, old, message),
            None => remote.reference(head, local, false, message),
        };
        match swapped {
            Err(e) if e.code() == ErrorCode::Locked && attempts < 50 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return result.map(drop),
        }
    }
}

/// Whether `error` says a ref's lock file is held: libgit2 reports it as `Locked`, or, when a
/// fetch updates a ref, as an OS error naming the `.lock` file ("failed to create locked
/// file", "failed to lock file ... for writing").
fn lock_taken(error: &git2::Error) -> bool {
    error.code() == ErrorCode::Locked
        || (error.class() == git2::ErrorClass::Os && error.message().contains(".lock'"))
}

/// `refs/heads/<branch>`, if that is a valid ref name.
fn branch_ref(branch: &str) -> Result<String, Error> {
    let head = format!("refs/heads/{branch}");
    if git2::Reference::is_valid_name(&head) {
        Ok(head)
    } else {
        Err(Error::usage(
            format!("{branch:?} is not a valid branch name"),
            "branch names are like fleeet/rendered",
        ))
    }
}

/// The outcome when the remote branch `head` is at `actual`, not at `expected`.
fn lease_lost(head: &str, actual: Option<Oid>, expected: Option<Oid>) -> PushOutcome {
    let at = |id: Option<Oid>| id.map_or("nowhere (missing)".to_string(), |id| id.to_string());
    PushOutcome::Rejected {
        reason: format!(
            "{head} is at {} on the remote, not at {} as read: another run is ahead",
            at(actual),
            at(expected)
        ),
    }
}

/// The folder a URL names when libgit2 would use its local transport for it.
fn local_path(url: &str) -> Option<PathBuf> {
    match url.strip_prefix("file://") {
        Some(path) => Some(PathBuf::from(path)),
        None => Path::new(url).is_dir().then(|| PathBuf::from(url)),
    }
}

/// `url` without the user name and password it may carry.
fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    struct Remote {
        _dir: tempfile::TempDir,
        path: String,
        repo: Repo,
    }

    fn bare_remote() -> Remote {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let path = dir.path().to_str().unwrap().to_string();
        Remote {
            _dir: dir,
            path,
            repo,
        }
    }

    fn local() -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path()).unwrap();
        (dir, repo)
    }

    #[test]
    fn a_push_sends_what_changed_and_the_remote_can_read_all_of_it() {
        let remote = bare_remote();
        let (_dir, repo) = local();
        let mut before = crate::layout::Files::new();
        for c in 0..20 {
            for m in 0..3 {
                before.insert(
                    format!("clusters/c{c}/m{m}.yaml"),
                    format!("{c} {m} v1").into(),
                );
            }
        }
        let first = commit(&repo, &[], &before, 1);
        let push = |commit, expected| {
            repo.push_with_lease(&remote.path, commit, "next", expected, &Auth::none())
                .unwrap()
        };
        assert_eq!(push(first, None), PushOutcome::Pushed);
        assert_eq!(objects(&remote.repo), 1 + 1 + 1 + 20 + 60);

        let mut after = before.clone();
        after.insert("clusters/c3/m1.yaml".into(), "changed".into());
        after.remove("clusters/c4/m0.yaml");
        after.insert(
            "clusters/c4/m0/release.yaml".into(),
            "a file became a folder".into(),
        );
        after.insert("clusters/new/m0.yaml".into(), "a new folder".into());
        let second = commit(&repo, &[first], &after, 2);
        assert_eq!(push(second, Some(first)), PushOutcome::Pushed);
        // The commit, the root and clusters/, c3/ and its changed file, c4/ with its new folder
        // and file, new/ and its file: nothing else.
        assert_eq!(objects(&remote.repo), 83 + 1 + 2 + 2 + 3 + 2);
        assert_eq!(
            remote.repo.read_files(second, &["clusters"]).unwrap(),
            after
        );
    }

    #[test]
    fn local_paths_are_told_from_urls_as_git_tells_them() {
        for path in [
            "../remote.git",
            "remote.git",
            "/srv/git/fleet.git",
            "./a:b/c",
        ] {
            assert!(is_local_path(path), "{path}");
        }
        for url in [
            "https://github.com/acme/fleet",
            "file:///srv/git/fleet.git",
            "git@github.com:acme/fleet.git",
            "host:fleet",
        ] {
            assert!(!is_local_path(url), "{url}");
        }
    }

    #[test]
    fn fetches_a_branch_into_fleeets_namespace_only() {
        let remote = bare_remote();
        let tip = commit(&remote.repo, &[], &files(&[("clusters/a/x.yaml", "x")]), 1);
        remote
            .repo
            .repo
            .reference("refs/heads/fleeet/rendered", tip, false, "")
            .unwrap();
        let (dir, repo) = local();
        repo.repo.remote("origin", &remote.path).unwrap();

        assert_eq!(
            repo.fetch_branch("origin", "fleeet/rendered", &Auth::none())
                .unwrap(),
            Some(tip)
        );
        assert_eq!(
            repo.resolve("refs/fleeet/remotes/origin/fleeet/rendered")
                .unwrap(),
            Some(tip)
        );
        assert_eq!(repo.resolve("origin/fleeet/rendered").unwrap(), None);
        // libgit2 always truncates FETCH_HEAD; it records nothing there.
        let fetch_head = std::fs::read(dir.path().join(".git/FETCH_HEAD")).unwrap_or_default();
        assert!(fetch_head.is_empty());
        assert_eq!(
            repo.read_files(tip, &["clusters"]).unwrap(),
            files(&[("clusters/a/x.yaml", "x")])
        );

        // By URL too; a branch the remote does not have is None, and forgotten once gone.
        let url = format!("file://{}", remote.path);
        assert_eq!(
            repo.fetch_branch(&url, "fleeet/rendered", &Auth::none())
                .unwrap(),
            Some(tip)
        );
        assert_eq!(
            repo.fetch_branch(&url, "fleeet/next", &Auth::none())
                .unwrap(),
            None
        );
        remote
            .repo
            .repo
            .find_reference("refs/heads/fleeet/rendered")
            .unwrap()
            .delete()
            .unwrap();
        assert_eq!(
            repo.fetch_branch("origin", "fleeet/rendered", &Auth::none())
                .unwrap(),
            None
        );
        assert_eq!(
            repo.resolve("refs/fleeet/remotes/origin/fleeet/rendered")
                .unwrap(),
            None
        );
    }

    #[test]
    fn fetching_from_nowhere_is_a_git_error() {
        let (_dir, repo) = local();
        let error = repo
            .fetch_branch("/nonexistent/remote.git", "main", &Auth::none())
            .unwrap_err();
        assert!(matches!(error, Error::Git { .. }), "{error}");
        assert!(
            error
                .to_string()
                .starts_with("fetching main from /nonexistent/remote.git: "),
            "{error}"
        );
        assert_eq!(error.exit_code(), crate::error::EXIT_FAILURE);
    }

    /// Pushes with a lease to the remote at `url`, the way reconcile does: create, update,
    /// refuse a stale lease, and leave the remote as it was after a refusal.
    fn pushes_with_a_lease(url: &str, remote: &Repo) {
        let (_dir, repo) = local();
        let auth = Auth::none();
        let first = commit(&repo, &[], &files(&[("a", "1")]), 1);
        let second = commit(&repo, &[first], &files(&[("a", "2")]), 2);
        let other = commit(&repo, &[first], &files(&[("a", "3")]), 3);

        assert_eq!(
            repo.push_with_lease(url, first, "next", None, &auth)
                .unwrap(),
            PushOutcome::Pushed
        );
        assert_eq!(remote.resolve("next").unwrap(), Some(first));
        assert_eq!(
            remote.read_files(first, &["a"]).unwrap(),
            files(&[("a", "1")])
        );

        // The branch exists now: creating it again loses the lease.
        let outcome = repo
            .push_with_lease(url, other, "next", None, &auth)
            .unwrap();
        assert!(
            matches!(&outcome, PushOutcome::Rejected { reason } if reason.contains("another run is ahead")),
            "{outcome:?}"
        );

        assert_eq!(
            repo.push_with_lease(url, second, "next", Some(first), &auth)
                .unwrap(),
            PushOutcome::Pushed
        );
        assert_eq!(remote.resolve("next").unwrap(), Some(second));

        // `other` is not a descendant of `second`; with the right lease it replaces it.
        let stale = repo
            .push_with_lease(url, other, "next", Some(first), &auth)
            .unwrap();
        assert!(matches!(stale, PushOutcome::Rejected { .. }), "{stale:?}");
        assert_eq!(remote.resolve("next").unwrap(), Some(second));
        assert_eq!(
            repo.push_with_lease(url, other, "next", Some(second), &auth)
                .unwrap(),
            PushOutcome::Pushed
        );
        assert_eq!(remote.resolve("next").unwrap(), Some(other));
        assert_eq!(
            remote.read_files(other, &["a"]).unwrap(),
            files(&[("a", "3")])
        );
    }

    #[test]
    fn pushes_with_a_lease_to_a_path() {
        let remote = bare_remote();
        pushes_with_a_lease(&remote.path, &remote.repo);
    }

    #[test]
    fn pushes_with_a_lease_to_a_file_url() {
        let remote = bare_remote();
        pushes_with_a_lease(&format!("file://{}", remote.path), &remote.repo);
    }

    #[test]
    fn pushes_with_a_lease_to_a_configured_remote() {
        let remote = bare_remote();
        let (_dir, repo) = local();
        repo.repo
            .remote("origin", "/nonexistent/fetch-only.git")
            .unwrap();
        repo.repo
            .remote_set_pushurl("origin", Some(&remote.path))
            .unwrap();
        let id = commit(&repo, &[], &files(&[("a", "1")]), 1);
        assert_eq!(
            repo.push_with_lease("origin", id, "next", None, &Auth::none())
                .unwrap(),
            PushOutcome::Pushed
        );
        assert_eq!(remote.repo.resolve("next").unwrap(), Some(id));
        // The remote-tracking branches are left alone.
        assert_eq!(repo.resolve("origin/next").unwrap(), None);
    }

    #[test]
    fn of_two_pushers_with_the_same_lease_exactly_one_wins() {
        for _ in 0..20 {
            let remote = bare_remote();
            let (_a_dir, a) = local();
            let base = commit(&a, &[], &files(&[("a", "0")]), 1);
            a.push_with_lease(&remote.path, base, "next", None, &Auth::none())
                .unwrap();
            let (_b_dir, b) = local();
            assert_eq!(
                b.fetch_branch(&remote.path, "next", &Auth::none()).unwrap(),
                Some(base)
            );

            let mine = commit(&a, &[base], &files(&[("a", "a")]), 2);
            let theirs = commit(&b, &[base], &files(&[("a", "b")]), 3);
            let start = std::sync::Barrier::new(2);
            let url = remote.path.as_str();
            let push = |repo: Repo, id: Oid| {
                start.wait();
                repo.push_with_lease(url, id, "next", Some(base), &Auth::none())
                    .unwrap()
            };
            let (first, second) = std::thread::scope(|s| {
                let first = s.spawn(|| push(a, mine));
                let second = s.spawn(|| push(b, theirs));
                (first.join().unwrap(), second.join().unwrap())
            });

            let winner = match (&first, &second) {
                (PushOutcome::Pushed, PushOutcome::Rejected { .. }) => mine,
                (PushOutcome::Rejected { .. }, PushOutcome::Pushed) => theirs,
                _ => panic!("exactly one push must win: {first:?}, {second:?}"),
            };
            assert_eq!(remote.repo.resolve("next").unwrap(), Some(winner));
        }
    }

    #[test]
    fn refuses_to_push_into_a_work_tree() {
        let (dir, target) = local();
        let (_dir, repo) = local();
        let id = commit(&repo, &[], &files(&[("a", "1")]), 1);
        let error = repo
            .push_with_lease(
                dir.path().to_str().unwrap(),
                id,
                "next",
                None,
                &Auth::none(),
            )
            .unwrap_err();
        assert!(
            error.to_string().contains("only to bare repositories"),
            "{error}"
        );
        assert_eq!(target.resolve("next").unwrap(), None);
    }

    #[test]
    fn the_token_is_never_shown() {
        let auth = Auth::token("s3cr3t-t0ken");
        assert_eq!(format!("{auth:?}"), "Auth { token: Some(\"<token>\") }");
        assert_eq!(format!("{:?}", Auth::none()), "Auth { token: None }");

        // A token in a remote's URL stays out of errors too.
        let (_dir, repo) = local();
        let url = "http://x-access-token:s3cr3t-t0ken@127.0.0.1:1/fleet.git";
        let error = repo.fetch_branch(url, "main", &auth).unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("http://127.0.0.1:1/fleet.git"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn rejects_invalid_branch_names() {
        let (_dir, repo) = local();
        let error = repo
            .fetch_branch("origin", "a..b", &Auth::none())
            .unwrap_err();
        assert!(matches!(error, Error::Usage { .. }), "{error}");
    }
}
