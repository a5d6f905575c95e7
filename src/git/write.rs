//! Writing trees and commits as git objects, reusing what a base tree already holds.

use std::collections::BTreeSet;

use git2::{ObjectType, Odb, Oid, Repository, Signature, Tree};

use super::{Identity, Repo, failed};
use crate::Error;
use crate::content::Content;
use crate::layout::Files;

const FILE: i32 = 0o100644;
const FOLDER: i32 = 0o040000;

impl Repo {
    /// Writes the tree holding exactly `files` and returns its id. Blobs and whole folders that
    /// are the same in `base_tree` are reused by id, not written again. No work tree or index is
    /// touched. Without files, this is the empty tree.
    pub fn write_tree(&self, base_tree: Option<Oid>, files: &Files) -> Result<Oid, Error> {
        let entries = checked(files)?;
        let base = base_tree.map(|id| self.find_tree(id)).transpose()?;
        self.write_with(|writer| writer.folder(base.as_ref(), &entries, 0))
    }

    /// Writes the tree of `base` with the folders `folders` (full paths, like
    /// `clusters/eu-1`) holding exactly what `files` holds under them, and removed if nothing:
    /// every other entry of `base` is kept by id, unread. A step costs the folders it changes,
    /// not the files the branch holds.
    pub fn write_folders(
        &self,
        base: Oid,
        folders: &[String],
        files: &Files,
    ) -> Result<Oid, Error> {
        let entries = checked(files)?;
        let base = self.find_tree(base)?;
        let mut folders: Vec<&str> = folders.iter().map(String::as_str).collect();
        folders.sort_unstable();
        folders.dedup();
        self.write_with(|writer| {
            let tree = writer.replace(Some(&base), "", &folders, &entries)?;
            match tree {
                Some(id) => Ok(id),
                None => writer.folder(None, &[], 0),
            }
        })
    }

    /// Runs `write` with a tree writer whose new objects are kept in memory, then stores them
    /// in this repository as one pack.
    fn write_with(
        &self,
        write: impl FnOnce(&mut TreeWriter<'_>) -> Result<Oid, Error>,
    ) -> Result<Oid, Error> {
        let scratch = Scratch::new(&self.repo)?;
        let mut writer = TreeWriter {
            repo: &scratch.repo,
            written: Vec::new(),
        };
        let tree = write(&mut writer)?;
        super::pack::copy_as_pack(&scratch.repo, &writer.written, &self.repo)?;
        Ok(tree)
    }

    fn find_tree(&self, id: Oid) -> Result<Tree<'_>, Error> {
        self.repo
            .find_tree(id)
            .map_err(failed(format!("reading the tree {id}")))
    }

    /// Writes a commit of `tree` on `parents` by `identity`, without moving any ref.
    pub fn commit(
        &self,
        parents: &[Oid],
        tree: Oid,
        message: &str,
        identity: &Identity,
    ) -> Result<Oid, Error> {
        let context = || format!("committing tree {tree}");
        let time = git2::Time::new(identity.time.as_second(), 0);
        let signature =
            Signature::new(&identity.name, &identity.email, &time).map_err(failed(context()))?;
        let tree = self.repo.find_tree(tree).map_err(failed(context()))?;
        let parents = parents
            .iter()
            .map(|&id| self.find_commit(id))
            .collect::<Result<Vec<_>, _>>()?;
        let parents: Vec<_> = parents.iter().collect();
        self.repo
            .commit(None, &signature, &signature, message, &tree, &parents)
            .map_err(failed(context()))
    }

    /// Writes a commit with no parent and no files: the start of a rendered branch, so that the
    /// first wave is a change on top of it like every other.
    pub fn empty_root(&self, message: &str, identity: &Identity) -> Result<Oid, Error> {
        let tree = self.write_tree(None, &Files::new())?;
        self.commit(&[], tree, message, identity)
    }
}

/// A repository that keeps the objects written into it in memory, and reads those of another.
///
/// Writing a whole rendered branch as loose objects costs a file per pointer, ten times as long
/// as the rest of the write; fleeet writes the new objects as one pack file instead.
struct Scratch {
    repo: Repository,
}

impl Scratch {
    /// A scratch repository reading the objects of `repo`.
    fn new(repo: &Repository) -> Result<Scratch, Error> {
        let context = || "preparing to write git objects".to_string();
        let scratch = Repository::from_odb(Odb::new().map_err(failed(context()))?)
            .map_err(failed(context()))?;
        let odb = scratch.odb().map_err(failed(context()))?;
        odb.add_new_mempack_backend(2).map_err(failed(context()))?;
        odb.add_disk_alternate(&repo.path().join("objects").to_string_lossy())
            .map_err(failed(context()))?;
        drop(odb);
        Ok(Scratch { repo: scratch })
    }
}

/// Writes folders and files into a repository as trees and blobs, noting which it wrote.
struct TreeWriter<'r> {
    repo: &'r Repository,
    written: Vec<Oid>,
}

impl<'r> TreeWriter<'r> {
    /// The folder at `at` (a path ending in `/`, or empty for the root) of `base`, with the
    /// folders `folders` (full paths, sorted, under `at`) holding what `entries` (full paths,
    /// sorted) holds under them; none if it holds nothing.
    fn replace(
        &mut self,
        base: Option<&Tree<'_>>,
        at: &str,
        folders: &[&str],
        entries: &[(&str, &Content)],
    ) -> Result<Option<Oid>, Error> {
        let context = || format!("writing the folder {at}");
        let mut builder = self.repo.treebuilder(base).map_err(failed(context()))?;
        let mut rest = folders;
        while let Some(first) = rest.first() {
            let name = first[at.len()..].split('/').next().unwrap_or_default();
            let child = &first[..at.len() + name.len()];
            let inside = format!("{child}/");
            let group = rest
                .iter()
                .take_while(|f| **f == child || f.starts_with(&inside))
                .count();
            let sub_base = base.and_then(|tree| self.subtree(tree, name));
            let under = within(entries, &inside);
            let id = if rest[0] == child {
                (!under.is_empty())
                    .then(|| self.folder(sub_base.as_ref(), under, inside.len()))
                    .transpose()?
            } else {
                self.replace(sub_base.as_ref(), &inside, &rest[..group], under)?
            };
            match id {
                Some(id) => builder.insert(name, id, FOLDER).map(drop),
                None if builder.get(name).ok().flatten().is_some() => builder.remove(name),
                None => Ok(()),
            }
            .map_err(failed(context()))?;
            rest = &rest[group..];
        }
        if builder.is_empty() {
            return Ok(None);
        }
        let id = builder.write().map_err(failed(context()))?;
        if base.is_none_or(|tree| tree.id() != id) {
            self.written.push(id);
        }
        Ok(Some(id))
    }

    /// Writes the folder holding `entries` (full paths, sorted, with the folder's own path the
    /// first `at` bytes of each) and returns its id; `base` is the same folder in the base
    /// tree, whose blobs and folders are reused where they are the same.
    fn folder(
        &mut self,
        base: Option<&Tree<'_>>,
        entries: &[(&str, &Content)],
        at: usize,
    ) -> Result<Oid, Error> {
        let mut children: Vec<(&str, Oid, i32)> = Vec::new();
        for (name, is_folder, inside) in super::children(entries, at) {
            if !is_folder {
                children.push((name, self.blob(base, name, inside[0].1)?, FILE));
                continue;
            }
            let inner = at + name.len() + 1;
            let sub_base = base.and_then(|tree| self.subtree(tree, name));
            let id = self.folder(sub_base.as_ref(), inside, inner)?;
            children.push((name, id, FOLDER));
        }

        let folder = &entries.first().map_or("", |(path, _)| &path[..at]);
        let mut names = BTreeSet::new();
        if let Some(duplicate) = children.iter().find(|(name, ..)| !names.insert(*name)) {
            return Err(Error::usage(
                format!("{folder}{} is both a file and a folder", duplicate.0),
                "a rendered path cannot be a file and hold files",
            ));
        }
        if let Some(base) = base
            && base.len() == children.len()
            && children.iter().all(|&(name, id, mode)| {
                base.get_name(name)
                    .is_some_and(|e| e.id() == id && e.filemode() == mode)
            })
        {
            return Ok(base.id());
        }

        let context = || format!("writing the folder {folder}");
        let mut builder = self.repo.treebuilder(None).map_err(failed(context()))?;
        for (name, id, mode) in children {
            builder.insert(name, id, mode).map_err(failed(context()))?;
        }
        let id = builder.write().map_err(failed(context()))?;
        self.written.push(id);
        Ok(id)
    }

    /// The id of the blob holding `content`, written unless `base` has it at `name` already.
    /// A content known by its id alone must be in the repository already.
    fn blob(
        &mut self,
        base: Option<&Tree<'_>>,
        name: &str,
        content: &Content,
    ) -> Result<Oid, Error> {
        let context = || format!("writing the file {name}");
        let id = content.id();
        let unchanged = base
            .and_then(|tree| tree.get_name(name))
            .is_some_and(|e| e.id() == id && e.filemode() == FILE);
        if unchanged {
            return Ok(id);
        }
        match content.text() {
            Some(text) => {
                self.repo.blob(text.as_bytes()).map_err(failed(context()))?;
                self.written.push(id);
            }
            None => {
                let odb = self.repo.odb().map_err(failed(context()))?;
                if !odb.exists(id) {
                    return Err(Error::Git {
                        context: context(),
                        message: format!(
                            "fleeet holds only the id of its content, blob {id}, and the repository does not have it (a bug in fleeet: please report it)"
                        ),
                    });
                }
            }
        }
        Ok(id)
    }

    /// The folder `name` of `tree`, if it has one.
    fn subtree(&self, tree: &Tree<'_>, name: &str) -> Option<Tree<'r>> {
        let entry = tree.get_name(name)?;
        if entry.kind() != Some(ObjectType::Tree) {
            return None;
        }
        self.repo.find_tree(entry.id()).ok()
    }
}

/// The entries of `files`, their paths checked.
fn checked(files: &Files) -> Result<Vec<(&str, &Content)>, Error> {
    files
        .iter()
        .map(|(path, content)| check_path(path).map(|()| (path.as_str(), content)))
        .collect()
}

/// The entries (sorted by path) under the folder `inside` (a path ending in `/`).
fn within<'e, 'p>(
    entries: &'e [(&'p str, &'p Content)],
    inside: &str,
) -> &'e [(&'p str, &'p Content)] {
    let start = entries.partition_point(|(path, _)| *path < inside);
    let len = entries[start..].partition_point(|(path, _)| path.starts_with(inside));
    &entries[start..start + len]
}

/// An error unless `path` is relative, `/`-separated, without empty, `.`, `..` or `.git` parts.
fn check_path(path: &str) -> Result<(), Error> {
    let bad = path
        .split('/')
        .find(|part| matches!(*part, "" | "." | "..") || part.eq_ignore_ascii_case(".git"));
    if bad.is_some() || path.contains('\0') {
        return Err(Error::usage(
            format!("cannot write {path:?} to git"),
            "paths are relative, `/`-separated, without empty, `.`, `..` or `.git` parts",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::testing::*;
    use super::*;

    fn fleet_files(clusters: usize, version: &str) -> Files {
        let mut files = Files::new();
        for c in 0..clusters {
            files.insert(format!("clusters/c{c}/kustomization.yaml"), "k".into());
            for m in 0..3 {
                let text = format!("cluster c{c} module m{m} version {version}");
                files.insert(format!("clusters/c{c}/m{m}.yaml"), text.into());
            }
        }
        files.insert(".fleeet/rollouts/m0.yaml".into(), "wave: 1".into());
        files
    }

    #[test]
    fn a_write_of_folders_keeps_the_rest_of_the_base_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let before = files(&[
            ("README.md", "hello"),
            ("clusters/a/x.yaml", "1"),
            ("clusters/b/y.yaml", "1"),
            ("clusters/gone/z.yaml", "1"),
            (".fleeet/rollouts/x.yaml", "r"),
        ]);
        let base = repo.write_tree(None, &before).unwrap();
        let next = files(&[("clusters/a/x.yaml", "2"), ("clusters/new/k.yaml", "k")]);
        let folders = ["clusters/a", "clusters/gone", "clusters/new", ".fleeet"].map(String::from);
        let tree = repo.write_folders(base, &folders, &next).unwrap();
        let commit = repo.commit(&[], tree, "t", &identity(1)).unwrap();
        let all = repo
            .read_files(commit, &["README.md", "clusters", ".fleeet"])
            .unwrap();
        assert_eq!(
            all,
            files(&[
                ("README.md", "hello"),
                ("clusters/a/x.yaml", "2"),
                ("clusters/b/y.yaml", "1"),
                ("clusters/new/k.yaml", "k"),
            ])
        );
        // Nothing left under a folder removes it; nothing changed is the base itself.
        let emptied = repo
            .write_folders(base, &["clusters".into(), ".fleeet".into()], &Files::new())
            .unwrap();
        assert_eq!(
            emptied,
            repo.write_tree(None, &files(&[("README.md", "hello")]))
                .unwrap()
        );
        let same = repo
            .write_folders(base, &["clusters/b".into()], &before)
            .unwrap();
        assert_eq!(same, base);
    }

    #[test]
    fn a_write_of_the_changed_folders_makes_the_tree_a_whole_write_makes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let before = fleet_files(40, "1.0");
        let base = repo.write_tree(None, &before).unwrap();

        let mut next = before.clone();
        next.insert("clusters/c3/m1.yaml".into(), "changed".into());
        next.remove("clusters/c7/m2.yaml");
        next.remove("clusters/c8/m0.yaml");
        next.insert(
            "clusters/c8/m0/release.yaml".into(),
            "a file became a folder".into(),
        );
        next.insert("clusters/new/kustomization.yaml".into(), "k".into());
        next.remove(".fleeet/rollouts/m0.yaml");
        let folders = [
            "clusters/c3",
            "clusters/c7",
            "clusters/c8",
            "clusters/new",
            ".fleeet",
        ]
        .map(String::from);
        let ours = repo.write_folders(base, &folders, &next).unwrap();
        assert_eq!(ours, repo.write_tree(None, &next).unwrap());
    }

    #[test]
    fn writes_exactly_the_files_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let files = fleet_files(5, "1.0");
        let id = commit(&repo, &[], &files, 1);
        let tree = repo.tree_of(id).unwrap();
        assert_eq!(
            repo.read_files(id, &["clusters", ".fleeet"]).unwrap(),
            files
        );
        // The same files make the same tree, whatever the base.
        let empty = repo.write_tree(None, &Files::new()).unwrap();
        assert_eq!(repo.write_tree(Some(empty), &files).unwrap(), tree);
    }

    #[test]
    fn new_objects_are_stored_as_one_pack_file_not_loose() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let files = fleet_files(20, "1.0");
        let tree = repo.write_tree(None, &files).unwrap();
        let mut stored: Vec<String> = walkdir::WalkDir::new(dir.path().join("objects"))
            .into_iter()
            .map(Result::unwrap)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().extension().unwrap().to_string_lossy().into_owned())
            .collect();
        stored.sort();
        assert_eq!(stored, ["idx", "pack"]);
        // Blobs: one kustomization.yaml shared by all, 3 pointers per cluster and a record; trees:
        // 20 cluster folders, clusters/, .fleeet/rollouts/, .fleeet/ and the root.
        assert_eq!(objects(&repo), 1 + 20 * 3 + 1 + 20 + 1 + 2 + 1);
        let id = repo.commit(&[], tree, "t", &identity(1)).unwrap();
        assert_eq!(
            repo.read_files(id, &["clusters", ".fleeet"]).unwrap(),
            files
        );
    }

    #[test]
    fn one_changed_file_writes_its_blob_and_the_folders_on_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let mut files = fleet_files(50, "1.0");
        let base = repo.write_tree(None, &files).unwrap();
        let before = objects(&repo);

        files.insert("clusters/c7/m1.yaml".into(), "changed".into());
        let tree = repo.write_tree(Some(base), &files).unwrap();

        // The blob, clusters/c7, clusters and the root.
        assert_eq!(objects(&repo) - before, 4);
        let (old, new) = (
            repo.repo.find_tree(base).unwrap(),
            repo.repo.find_tree(tree).unwrap(),
        );
        let id = |tree: &Tree<'_>, p: &str| tree.get_path(Path::new(p)).unwrap().id();
        assert_eq!(id(&old, ".fleeet"), id(&new, ".fleeet"));
        assert_eq!(id(&old, "clusters/c6"), id(&new, "clusters/c6"));
        assert_ne!(id(&old, "clusters/c7"), id(&new, "clusters/c7"));
        assert_eq!(
            id(&old, "clusters/c7/m0.yaml"),
            id(&new, "clusters/c7/m0.yaml")
        );

        // Unchanged files over the same base write nothing at all.
        let before = objects(&repo);
        assert_eq!(repo.write_tree(Some(tree), &files).unwrap(), tree);
        assert_eq!(objects(&repo), before);
    }

    #[test]
    fn removed_files_and_emptied_folders_disappear() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let all = files(&[("clusters/a/x.yaml", "x"), ("clusters/b/y.yaml", "y")]);
        let base = repo.write_tree(None, &all).unwrap();
        let fewer = files(&[("clusters/a/x.yaml", "x")]);
        let tree = repo.write_tree(Some(base), &fewer).unwrap();
        assert_eq!(tree, repo.write_tree(None, &fewer).unwrap());
        let id = repo.commit(&[], tree, "t", &identity(1)).unwrap();
        assert_eq!(repo.read_files(id, &["clusters"]).unwrap(), fewer);
    }

    #[test]
    fn refuses_paths_git_cannot_hold() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        for bad in [
            "/abs",
            "a//b",
            "a/../b",
            "./a",
            "a/",
            ".git/config",
            "a/.GIT/x",
            "a\0b",
        ] {
            let error = repo.write_tree(None, &files(&[(bad, "x")])).unwrap_err();
            assert!(matches!(error, Error::Usage { .. }), "{bad:?}: {error}");
        }
        let error = repo
            .write_tree(None, &files(&[("a/b", "x"), ("a/b/c", "y")]))
            .unwrap_err();
        assert_eq!(error.to_string(), "a/b is both a file and a folder");
    }

    #[test]
    fn commits_are_deterministic_and_an_empty_root_starts_a_branch() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let root = repo
            .empty_root("fleeet: start the rendered branch", &identity(10))
            .unwrap();
        assert_eq!(
            root,
            repo.empty_root("fleeet: start the rendered branch", &identity(10))
                .unwrap()
        );
        let commit = repo.repo.find_commit(root).unwrap();
        assert_eq!(commit.parent_count(), 0);
        assert!(commit.tree().unwrap().is_empty());
        assert_eq!(commit.committer().when().seconds(), 10);
        assert_eq!(commit.author().email().ok(), Some("fleeet@example.com"));

        let tree = repo
            .write_tree(None, &files(&[("clusters/a/x.yaml", "x")]))
            .unwrap();
        let child = repo.commit(&[root], tree, "wave 1", &identity(20)).unwrap();
        let child = repo.repo.find_commit(child).unwrap();
        assert_eq!(child.parent_ids().collect::<Vec<_>>(), [root]);
        assert_eq!(child.message().ok(), Some("wave 1"));
    }
}

#[cfg(test)]
mod timing {
    //! `cargo test --release --lib git::write::timing -- --ignored --nocapture`

    use std::time::Instant;

    use super::super::testing::*;
    use super::*;
    use crate::git::Auth;

    /// 10,000 clusters with 20 modules each: a kustomization and a pointer per module.
    fn big_fleet(version: &str) -> Files {
        let mut files = Files::new();
        for c in 0..10_000 {
            files.insert(
                format!("clusters/cluster-{c:05}/kustomization.yaml"),
                "resources: [...]\n".into(),
            );
            for m in 0..20 {
                let text = format!(
                    "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: module-{m}\n  namespace: flux-system\nspec:\n  interval: 10m\n  url: https://github.com/example/module-{m}\n  ref:\n    tag: v{version}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: module-{m}\n  namespace: flux-system\nspec:\n  path: ./deploy\n  postBuild:\n    substitute:\n      cluster: cluster-{c:05}\n"
                );
                files.insert(
                    format!("clusters/cluster-{c:05}/module-{m:02}.yaml"),
                    text.into(),
                );
            }
        }
        files
    }

    #[test]
    #[ignore = "measures 200,000 files; run by hand in release mode"]
    fn two_hundred_thousand_files() {
        let time = |what: &str, start: Instant| eprintln!("{what}: {:.2?}", start.elapsed());
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path()).unwrap();
        let files = big_fleet("1.0.0");
        eprintln!("{} files", files.len());

        let start = Instant::now();
        let tree = repo.write_tree(None, &files).unwrap();
        time("write_tree, every object new (one pack)", start);
        let base = repo.commit(&[], tree, "base", &identity(1)).unwrap();

        let start = Instant::now();
        let read = repo.read_files(base, &["clusters", ".fleeet"]).unwrap();
        time("read_files", start);
        assert_eq!(read.len(), files.len());

        let mut one = files.clone();
        one.insert(
            "clusters/cluster-04242/module-07.yaml".into(),
            "changed".into(),
        );
        let start = Instant::now();
        repo.write_tree(Some(tree), &one).unwrap();
        time("write_tree, one file changed", start);

        let mut wave = files.clone();
        for c in 0..1_000 {
            let path = format!("clusters/cluster-{c:05}/module-03.yaml");
            let text = wave[&path].text().unwrap().replace("v1.0.0", "v1.1.0");
            wave.insert(path, text.into());
        }
        let start = Instant::now();
        repo.write_tree(Some(tree), &wave).unwrap();
        time("write_tree, 1,000 files changed", start);

        let remote_dir = tempfile::tempdir().unwrap();
        Repo::init_bare(remote_dir.path()).unwrap();
        let remote = remote_dir.path().to_str().unwrap();
        let start = Instant::now();
        repo.push_with_lease(remote, base, "rendered", None, &Auth::none())
            .unwrap();
        time("push to a local bare repository", start);

        let clone_dir = tempfile::tempdir().unwrap();
        let clone = Repo::init(clone_dir.path()).unwrap();
        let start = Instant::now();
        let tip = clone
            .fetch_branch(remote, "rendered", &Auth::none())
            .unwrap()
            .unwrap();
        time("fetch_branch", start);
        let start = Instant::now();
        let read = clone.read_files(tip, &["clusters", ".fleeet"]).unwrap();
        time("read_files, after a fetch", start);
        assert_eq!(read, files);

        // 20 waves of 500 clusters each upgrade module-03, then ask when each pointer of
        // module-03 (all changed) and module-07 (never changed since the root) landed.
        let (mut tip, mut tree, mut current) = (tip, clone.tree_of(tip).unwrap(), files);
        for wave in 0..20 {
            for c in wave * 500..(wave + 1) * 500 {
                let path = format!("clusters/cluster-{c:05}/module-03.yaml");
                let text = current[&path].text().unwrap().replace("v1.0.0", "v1.1.0");
                current.insert(path, text.into());
            }
            tree = clone.write_tree(Some(tree), &current).unwrap();
            tip = clone
                .commit(&[tip], tree, "wave", &identity(100 + wave as i64))
                .unwrap();
        }
        let paths = (0..10_000)
            .flat_map(|c| [3, 7].map(|m| format!("clusters/cluster-{c:05}/module-{m:02}.yaml")))
            .map(|path| (path, true))
            .collect();
        let start = Instant::now();
        let landed = clone.last_changed(tip, &paths).unwrap();
        time("last_changed, 20,000 paths over 21 commits", start);
        assert_eq!(landed.len(), 20_000);
    }
}
