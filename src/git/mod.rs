//! The rendered branch in git: reading trees and history, writing trees and commits, fetching
//! and pushing — the I/O edge between fleeet and a git repository (libgit2 through `git2`).
//!
//! **Trees are written as objects**, with no work tree and no index: fleeet lays out each
//! tree's bytes and hashes them itself ([`Repo::write_tree`]; the folders of a step in
//! parallel), and stores only the objects the repository lacks. [`Repo::write_folders`] goes
//! further for a rollout step: it replaces the folders the step changes and keeps every other
//! entry of the base by id, unread, so a wave of 3,000 clusters among 100,000 costs its 3,000
//! folders. The new objects are stored as one pack file: a first write of 10,000 clusters is
//! 250,000 objects, and as loose objects that is 250,000 files. fleeet writes that pack
//! itself, without deltas or compression: it stays on this machine (see `pack`).
//!
//! **History gives time**: the first-parent chain of the rendered branch says when a change
//! landed (a merged pull request counts from its merge commit). [`Repo::last_changed`] finds
//! when each of many files last changed in one walk of tree diffs (what the rollout planner's
//! `landed_at` holds); [`Repo::since`] finds when a statement about one file started to hold,
//! reading the file only where its blob id changes.
//!
//! **Pushes take a lease**: [`Repo::push_with_lease`] moves a remote branch only if it is still
//! at the commit the caller read. libgit2 has no `--force-with-lease`, so it is built from what
//! libgit2 does: the old id a push command carries is the one the remote advertised on the same
//! connection, and the `push_negotiation` callback sees it before anything is sent. fleeet aborts
//! there if it differs from the expected id; otherwise it pushes with a force refspec, and the
//! server updates the ref only if it still holds that old id (git's receive-pack checks this
//! under the ref lock, so a push racing ours makes ours fail, never lose theirs). A refusal comes
//! back per ref through `push_update_reference`, not as an error of the push, so it is checked
//! too. libgit2's local transport (a path or `file://` URL) does not compare the old id when it
//! moves an existing ref, so for those remotes fleeet copies the objects itself and moves the ref with a
//! compare-and-swap under the remote's ref lock: the same guarantee. It sends what changed,
//! path by path against the parents, as git's sparse walk does.

mod current;
mod expect;
mod pack;
mod read;
mod remote;
mod since;
mod write;

use std::path::Path;

use git2::{ErrorCode, Oid, Repository};

pub use remote::{Auth, PushOutcome};

use crate::Error;

/// A git repository that fleeet reads the rendered branch from, and writes commits into.
pub struct Repo {
    repo: Repository,
}

/// Who makes a commit, and when: the author and the committer of commits fleeet writes. The time
/// is explicit so that the same inputs make the same commit id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
    pub time: jiff::Timestamp,
}

/// Turns off two checks of libgit2 that cost more than the rest of a large write: re-hashing
/// every object read (fetched objects were verified when their pack was indexed; git itself
/// does not re-hash on read) and looking up every id a new tree names (fleeet's trees name
/// only objects it just wrote or read from the base tree). Together they were a third of a
/// 10,000-cluster reconcile.
fn tune_libgit2() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        git2::opts::strict_hash_verification(false);
        git2::opts::strict_object_creation(false);
    });
}

impl Repo {
    /// The repository at `path` or in a folder above it.
    pub fn open(path: &Path) -> Result<Repo, Error> {
        tune_libgit2();
        let repo = Repository::discover(path).map_err(failed(format!(
            "opening a git repository at {}",
            path.display()
        )))?;
        Ok(Repo { repo })
    }

    /// Creates a repository with a work tree at `path`.
    pub fn init(path: &Path) -> Result<Repo, Error> {
        tune_libgit2();
        let repo = Repository::init(path).map_err(failed(format!(
            "creating a git repository at {}",
            path.display()
        )))?;
        Ok(Repo { repo })
    }

    /// Creates a bare repository (no work tree) at `path`, as a remote is.
    pub fn init_bare(path: &Path) -> Result<Repo, Error> {
        tune_libgit2();
        let repo = Repository::init_bare(path).map_err(failed(format!(
            "creating a bare git repository at {}",
            path.display()
        )))?;
        Ok(Repo { repo })
    }

    /// The commit `rev` names: a branch (`fleeet/rendered`), a remote-tracking branch
    /// (`origin/fleeet/rendered`), a full ref name or a commit id. `None` if there is no such
    /// thing, which for the rendered branch means nothing was rendered yet.
    pub fn resolve(&self, rev: &str) -> Result<Option<Oid>, Error> {
        match self.repo.revparse_single(rev) {
            Ok(object) => {
                let commit = object
                    .peel_to_commit()
                    .map_err(failed(format!("{rev} does not name a commit")))?;
                Ok(Some(commit.id()))
            }
            Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::UnbornBranch) => Ok(None),
            Err(e) => Err(git_error(format!("resolving {rev}"), e)),
        }
    }

    /// The parents of `commit`, first parent first.
    pub fn parents_of(&self, commit: Oid) -> Result<Vec<Oid>, Error> {
        Ok(self.find_commit(commit)?.parent_ids().collect())
    }

    /// The tree of `commit`, to pass as the base of [`Repo::write_tree`].
    pub fn tree_of(&self, commit: Oid) -> Result<Oid, Error> {
        let commit = self.find_commit(commit)?;
        Ok(commit.tree_id())
    }

    fn find_commit(&self, id: Oid) -> Result<git2::Commit<'_>, Error> {
        self.repo
            .find_commit(id)
            .map_err(failed(format!("reading commit {id}")))
    }
}

/// The entries of the folder holding `files` (full paths in order; the folder's own path is
/// the first `at` bytes of each): each one's name, whether it is a folder, and the files it
/// stands for (one for a file). The paths are in order, so a folder's files are the ones that
/// follow its first.
fn children<'s, 'p, T>(
    mut files: &'s [(&'p str, T)],
    at: usize,
) -> impl Iterator<Item = (&'p str, bool, &'s [(&'p str, T)])> {
    std::iter::from_fn(move || {
        let path: &'p str = files.first()?.0;
        let (name, folder, count) = match path[at..].split_once('/') {
            None => (&path[at..], false, 1),
            Some((name, _)) => {
                let prefix = &path.as_bytes()[..at + name.len() + 1];
                let count = files
                    .iter()
                    .take_while(|(p, _)| p.as_bytes().starts_with(prefix))
                    .count();
                (name, true, count)
            }
        };
        let (group, rest) = files.split_at(count);
        files = rest;
        Some((name, folder, group))
    })
}

/// A [`Error::Git`] saying what was being done when `error` happened.
fn git_error(context: impl Into<String>, error: git2::Error) -> Error {
    Error::Git {
        context: context.into(),
        message: error.message().to_string(),
    }
}

/// For `map_err`: turns a `git2::Error` into an [`Error::Git`] with `context`.
fn failed(context: impl Into<String>) -> impl FnOnce(git2::Error) -> Error {
    let context = context.into();
    move |error| git_error(context, error)
}

/// The first characters of a commit id, as git shows them.
fn short(id: Oid) -> String {
    let mut text = id.to_string();
    text.truncate(7);
    text
}

#[cfg(test)]
pub(crate) mod testing {
    //! Repositories for tests, with fixed identities and times.

    use proptest::prelude::*;

    use super::*;
    use crate::layout::Files;

    /// An identity at `second` seconds after the epoch.
    pub fn identity(second: i64) -> Identity {
        Identity {
            name: "fleeet".into(),
            email: "fleeet@example.com".into(),
            time: jiff::Timestamp::from_second(second).unwrap(),
        }
    }

    /// Files from `(path, content)` pairs.
    pub fn files(pairs: &[(&str, &str)]) -> Files {
        pairs
            .iter()
            .map(|(path, content)| (path.to_string(), (*content).into()))
            .collect()
    }

    /// The number of objects in `repo`, loose or packed (an object in two packs counts twice).
    pub fn objects(repo: &Repo) -> usize {
        let mut count = 0;
        repo.repo
            .odb()
            .unwrap()
            .foreach(|_| {
                count += 1;
                true
            })
            .unwrap();
        count
    }

    /// Paths under `c/` of one to three parts from a small alphabet, so that names share
    /// prefixes and sort around `/` (`a`, `a-b`, `a.yaml`, `a/b`).
    pub fn path() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec!["a", "a-b", "a.yaml", "b", "b0"]),
            1..4,
        )
        .prop_map(|parts| format!("c/{}", parts.join("/")))
    }

    /// Files at `paths` (none both a file and a folder), with texts from a few.
    pub fn some_files() -> impl Strategy<Value = Files> {
        prop::collection::btree_map(path(), prop::sample::select(vec!["1", "2", "3"]), 0..24)
            .prop_filter("a path is a file or a folder", |files| {
                !files
                    .keys()
                    .any(|p| files.keys().any(|q| q.starts_with(&format!("{p}/"))))
            })
            .prop_map(|files| {
                files
                    .into_iter()
                    .map(|(path, text)| (path, text.into()))
                    .collect()
            })
    }

    /// A commit of exactly `files` on `parents`, at `second`.
    pub fn commit(repo: &Repo, parents: &[Oid], files: &Files, second: i64) -> Oid {
        let tree = repo.write_tree(files).unwrap();
        repo.commit(parents, tree, "test", &identity(second))
            .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn resolves_branches_remote_branches_refs_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path()).unwrap();
        let id = commit(&repo, &[], &files(&[("a", "1")]), 1);
        repo.repo
            .reference("refs/heads/fleeet/rendered", id, false, "")
            .unwrap();
        repo.repo
            .reference("refs/remotes/origin/fleeet/rendered", id, false, "")
            .unwrap();

        for rev in [
            "fleeet/rendered",
            "origin/fleeet/rendered",
            "refs/heads/fleeet/rendered",
            &id.to_string(),
        ] {
            assert_eq!(repo.resolve(rev).unwrap(), Some(id), "{rev}");
        }
        assert_eq!(repo.resolve("fleeet/nothing").unwrap(), None);
        assert_eq!(
            repo.tree_of(id).unwrap(),
            repo.write_tree(&files(&[("a", "1")])).unwrap()
        );
    }

    #[test]
    fn a_new_repository_has_nothing_rendered() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path()).unwrap();
        assert_eq!(repo.resolve("HEAD").unwrap(), None);
        assert_eq!(repo.resolve("fleeet/rendered").unwrap(), None);
    }

    #[test]
    fn opens_the_repository_above_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        Repo::init(dir.path()).unwrap();
        let inner = dir.path().join("fleet/modules");
        std::fs::create_dir_all(&inner).unwrap();
        assert!(Repo::open(&inner).is_ok());

        let error = Repo::open(&tempfile::tempdir().unwrap().path().join("x"))
            .err()
            .unwrap();
        assert_eq!(error.exit_code(), crate::error::EXIT_FAILURE);
        assert!(
            error
                .to_string()
                .starts_with("opening a git repository at "),
            "{error}"
        );
    }
}
