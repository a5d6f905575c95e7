//! Writing trees and commits as git objects, reusing what the repository already holds.
//!
//! Trees are made here, not through libgit2's tree builder: their bytes are laid out and
//! hashed in memory (the folders of a step in parallel, with the CPU's SHA instructions),
//! then the objects the repository lacks are stored as one pack.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use git2::{ObjectType, Oid, Signature, Tree};
use rayon::prelude::*;

use super::{Identity, Repo, failed};
use crate::Error;
use crate::content::{Content, FILE, FOLDER, object_id, tree_bytes, tree_order};
use crate::layout::Files;

/// An object a write makes: its id and type, and its bytes (none: a file known by its id
/// alone, which the repository must hold already).
struct Object {
    id: Oid,
    kind: ObjectType,
    bytes: Option<Bytes>,
}

enum Bytes {
    Text(Arc<str>),
    Tree(Vec<u8>),
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Text(text) => text.as_bytes(),
            Bytes::Tree(bytes) => bytes,
        }
    }
}

/// An entry of a tree being made: its name, file mode and id.
type Entry = (Vec<u8>, i32, Oid);

/// A folder made: its id, and the objects it is made of.
type Made = (Oid, Vec<Object>);

impl Repo {
    /// Writes the tree holding exactly `files` and returns its id. Blobs and folders the
    /// repository holds already are not written again. No work tree or index is touched.
    /// Without files, this is the empty tree.
    pub fn write_tree(&self, files: &Files) -> Result<Oid, Error> {
        let entries = checked(files)?;
        let (id, objects) = folder(&entries, 0)?;
        self.store(objects)?;
        Ok(id)
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
        let mut objects = Vec::new();
        let id = match self.replace(Some(&base), "", &folders, &entries, &mut objects)? {
            Some(id) => id,
            None => {
                let (id, empty) = folder(&[], 0)?;
                objects.extend(empty);
                id
            }
        };
        self.store(objects)?;
        Ok(id)
    }

    /// The folder at `at` (a path ending in `/`, or empty for the root) of `base`, with the
    /// folders `folders` (full paths, sorted, under `at`) holding what `entries` (full paths,
    /// sorted) holds under them; none if it holds nothing. The new objects go to `objects`.
    fn replace(
        &self,
        base: Option<&Tree<'_>>,
        at: &str,
        folders: &[&str],
        entries: &[(&str, &Content)],
        objects: &mut Vec<Object>,
    ) -> Result<Option<Oid>, Error> {
        // The folders replaced whole are made in parallel; those deeper, one by one.
        let mut whole = Vec::new();
        let mut changed: Vec<(&str, Option<Oid>)> = Vec::new();
        let mut rest = folders;
        while let Some(first) = rest.first() {
            let name = first[at.len()..].split('/').next().unwrap_or_default();
            let child = &first[..at.len() + name.len()];
            let inside = format!("{child}/");
            let group = rest
                .iter()
                .take_while(|f| **f == child || f.starts_with(&inside))
                .count();
            let under = within(entries, &inside);
            if rest[0] == child {
                whole.push((name, under, inside.len()));
            } else {
                let sub_base = base.and_then(|tree| self.subtree(tree, name));
                let id =
                    self.replace(sub_base.as_ref(), &inside, &rest[..group], under, objects)?;
                // A file on the way to folders left empty stays.
                if id.is_some() || sub_base.is_some() {
                    changed.push((name, id));
                }
            }
            rest = &rest[group..];
        }
        let made: Vec<(&str, Option<Made>)> = whole
            .into_par_iter()
            .map(|(name, under, at)| {
                let made = (!under.is_empty()).then(|| folder(under, at)).transpose()?;
                Ok((name, made))
            })
            .collect::<Result<_, Error>>()?;
        for (name, made) in made {
            let id = made.map(|(id, made)| {
                objects.extend(made);
                id
            });
            changed.push((name, id));
        }
        let children = with_changes(base, changed);
        if children.is_empty() {
            return Ok(None);
        }
        let tree = tree_object(&children);
        let id = tree.id;
        if base.is_none_or(|tree| tree.id() != id) {
            objects.push(tree);
        }
        Ok(Some(id))
    }

    /// Stores the objects of `objects` the repository lacks as one pack. An object known by
    /// its id alone must be in the repository already.
    fn store(&self, objects: Vec<Object>) -> Result<(), Error> {
        let odb = self
            .repo
            .odb()
            .map_err(failed("opening the object database"))?;
        let mut seen = HashSet::with_capacity(objects.len());
        let mut new = Vec::new();
        for object in objects {
            if !seen.insert(object.id) || odb.exists(object.id) {
                continue;
            }
            match object.bytes {
                Some(bytes) => new.push((object.kind, bytes)),
                None => {
                    return Err(Error::Git {
                        context: format!("writing blob {}", object.id),
                        message: format!(
                            "fleeet holds only the id of its content, blob {}, and the repository does not have it (a bug in fleeet: please report it)",
                            object.id
                        ),
                    });
                }
            }
        }
        drop(odb);
        let count = new.len();
        super::pack::write_pack(&self.repo, count, new.into_iter().map(Ok))
    }

    fn find_tree(&self, id: Oid) -> Result<Tree<'_>, Error> {
        self.repo
            .find_tree(id)
            .map_err(failed(format!("reading the tree {id}")))
    }

    /// The folder `name` of `tree`, if it has one.
    fn subtree(&self, tree: &Tree<'_>, name: &str) -> Option<Tree<'_>> {
        let entry = tree.get_name(name)?;
        if entry.kind() != Some(ObjectType::Tree) {
            return None;
        }
        self.repo.find_tree(entry.id()).ok()
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
        let tree = self.write_tree(&Files::new())?;
        self.commit(&[], tree, message, identity)
    }
}

/// The folder holding `entries` (full paths, sorted, with the folder's own path the first `at`
/// bytes of each): its id, and the objects it is made of (its blobs, itself and the folders
/// in it). Large folders are made on every CPU.
fn folder(entries: &[(&str, &Content)], at: usize) -> Result<Made, Error> {
    let groups: Vec<_> = super::children(entries, at).collect();
    let made: Vec<(Entry, Vec<Object>)> = if entries.len() > 4096 {
        let made = groups.into_par_iter().map(|group| child(group, at));
        made.collect::<Result<_, Error>>()?
    } else {
        let made = groups.into_iter().map(|group| child(group, at));
        made.collect::<Result<_, Error>>()?
    };
    let mut names = HashSet::with_capacity(made.len());
    if let Some(((duplicate, ..), _)) = made.iter().find(|((name, ..), _)| !names.insert(name)) {
        let folder = entries.first().map_or("", |(path, _)| &path[..at]);
        return Err(Error::usage(
            format!(
                "{folder}{} is both a file and a folder",
                String::from_utf8_lossy(duplicate)
            ),
            "a rendered path cannot be a file and hold files",
        ));
    }
    let (children, made): (Vec<Entry>, Vec<Vec<Object>>) = made.into_iter().unzip();
    let tree = tree_object(&children);
    let id = tree.id;
    let mut objects: Vec<Object> = made.into_iter().flatten().collect();
    objects.push(tree);
    Ok((id, objects))
}

/// An entry of the folder at `at` being made (see `git::children`): a file, or a folder made
/// of the files `inside` it, with the objects it is made of.
fn child(
    (name, is_folder, inside): (&str, bool, &[(&str, &Content)]),
    at: usize,
) -> Result<(Entry, Vec<Object>), Error> {
    if !is_folder {
        let content = inside[0].1;
        let blob = Object {
            id: content.id(),
            kind: ObjectType::Blob,
            bytes: content.text().cloned().map(Bytes::Text),
        };
        return Ok(((name.as_bytes().to_vec(), FILE, content.id()), vec![blob]));
    }
    let (id, objects) = folder(inside, at + name.len() + 1)?;
    Ok(((name.as_bytes().to_vec(), FOLDER, id), objects))
}

/// The entries of `base` with the folders `changed` (by name: a new id, or none to remove),
/// in tree order.
fn with_changes(base: Option<&Tree<'_>>, changed: Vec<(&str, Option<Oid>)>) -> Vec<Entry> {
    let mut changed: HashMap<&[u8], Option<Oid>> = changed
        .into_iter()
        .map(|(name, id)| (name.as_bytes(), id))
        .collect();
    let mut children: Vec<Entry> = Vec::new();
    for entry in base.iter().flat_map(|tree| tree.iter()) {
        let name = entry.name_bytes();
        match changed.remove(name) {
            Some(Some(id)) => children.push((name.to_vec(), FOLDER, id)),
            Some(None) => {}
            None => children.push((name.to_vec(), entry.filemode(), entry.id())),
        }
    }
    let added = changed
        .into_iter()
        .filter_map(|(name, id)| Some((name.to_vec(), FOLDER, id?)));
    children.extend(added);
    children.sort_unstable_by(|(a, a_mode, _), (b, b_mode, _)| {
        tree_order(a, *a_mode == FOLDER, b, *b_mode == FOLDER)
    });
    children
}

/// The tree object holding `children` (in tree order).
fn tree_object(children: &[Entry]) -> Object {
    let bytes = tree_bytes(
        children
            .iter()
            .map(|(name, mode, id)| (&name[..], *mode, *id)),
    );
    Object {
        id: object_id("tree", &bytes),
        kind: ObjectType::Tree,
        bytes: Some(Bytes::Tree(bytes)),
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
        let base = repo.write_tree(&before).unwrap();
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
            repo.write_tree(&files(&[("README.md", "hello")])).unwrap()
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
        let base = repo.write_tree(&before).unwrap();

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
        assert_eq!(ours, repo.write_tree(&next).unwrap());
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
        // The same files make the same tree, whatever the repository holds already.
        repo.write_tree(&Files::new()).unwrap();
        assert_eq!(repo.write_tree(&files).unwrap(), tree);
    }

    #[test]
    fn new_objects_are_stored_as_one_pack_file_not_loose() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let files = fleet_files(20, "1.0");
        let tree = repo.write_tree(&files).unwrap();
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
        let base = repo.write_tree(&files).unwrap();
        let before = objects(&repo);

        files.insert("clusters/c7/m1.yaml".into(), "changed".into());
        let tree = repo.write_tree(&files).unwrap();

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
        assert_eq!(repo.write_tree(&files).unwrap(), tree);
        assert_eq!(objects(&repo), before);
    }

    #[test]
    fn removed_files_and_emptied_folders_disappear() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let all = files(&[("clusters/a/x.yaml", "x"), ("clusters/b/y.yaml", "y")]);
        repo.write_tree(&all).unwrap();
        let fewer = files(&[("clusters/a/x.yaml", "x")]);
        let tree = repo.write_tree(&fewer).unwrap();
        assert_eq!(tree, repo.write_tree(&fewer).unwrap());
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
            let error = repo.write_tree(&files(&[(bad, "x")])).unwrap_err();
            assert!(matches!(error, Error::Usage { .. }), "{bad:?}: {error}");
        }
        let error = repo
            .write_tree(&files(&[("a/b", "x"), ("a/b/c", "y")]))
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
            .write_tree(&files(&[("clusters/a/x.yaml", "x")]))
            .unwrap();
        let child = repo.commit(&[root], tree, "wave 1", &identity(20)).unwrap();
        let child = repo.repo.find_commit(child).unwrap();
        assert_eq!(child.parent_ids().collect::<Vec<_>>(), [root]);
        assert_eq!(child.message().ok(), Some("wave 1"));
    }
    /// The tree libgit2 writes for `files`, from an index holding them.
    fn libgit2_tree(repo: &Repo, files: &Files) -> Oid {
        let mut index = git2::Index::new().unwrap();
        for (path, content) in files {
            let bytes = content.text().unwrap().as_bytes();
            let entry = git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: 0o100644,
                uid: 0,
                gid: 0,
                file_size: bytes.len() as u32,
                id: repo.repo.blob(bytes).unwrap(),
                flags: path.len().min(0xfff) as u16,
                flags_extended: 0,
                path: path.as_bytes().to_vec(),
            };
            index.add(&entry).unwrap();
        }
        index.write_tree_to(&repo.repo).unwrap()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn trees_are_the_ones_libgit2_writes_and_a_write_of_folders_agrees(
            before in some_files(),
            after in some_files(),
            folders in proptest::collection::btree_set(path(), 0..6),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repo::init_bare(dir.path()).unwrap();
            let base = repo.write_tree(&before).unwrap();
            proptest::prop_assert_eq!(base, libgit2_tree(&repo, &before));
            // What `after` holds under `folders` (a file at a folder's path goes), the rest as
            // `before` holds it.
            let under = |path: &str| folders.iter().any(|f| path.starts_with(&format!("{f}/")));
            let replaced = |path: &str| under(path) || folders.contains(path);
            let expected: Files = before
                .iter()
                .filter(|(p, _)| !replaced(p))
                .chain(after.iter().filter(|(p, _)| under(p)))
                .map(|(p, c)| (p.clone(), c.clone()))
                .collect();
            let clash = expected.keys().any(|p| expected.keys().any(|q| q.starts_with(&format!("{p}/"))));
            proptest::prop_assume!(!clash);
            let folders: Vec<String> = folders.into_iter().collect();
            let written = repo.write_folders(base, &folders, &after).unwrap();
            let whole = libgit2_tree(&repo, &expected);
            proptest::prop_assert_eq!(written, whole);
        }
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
        let tree = repo.write_tree(&files).unwrap();
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
        repo.write_tree(&one).unwrap();
        time("write_tree, one file changed", start);

        let mut wave = files.clone();
        for c in 0..1_000 {
            let path = format!("clusters/cluster-{c:05}/module-03.yaml");
            let text = wave[&path].text().unwrap().replace("v1.0.0", "v1.1.0");
            wave.insert(path, text.into());
        }
        let start = Instant::now();
        repo.write_tree(&wave).unwrap();
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
        let (mut tip, mut current) = (tip, files);
        for wave in 0..20 {
            for c in wave * 500..(wave + 1) * 500 {
                let path = format!("clusters/cluster-{c:05}/module-03.yaml");
                let text = current[&path].text().unwrap().replace("v1.0.0", "v1.1.0");
                current.insert(path, text.into());
            }
            let tree = clone.write_tree(&current).unwrap();
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
