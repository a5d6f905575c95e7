//! Reading a tree against the files it is expected to hold: the ids git gives the expected
//! files and folders, computed from their contents, say which folders of the tree hold exactly
//! those files (not even walked) and which files hold those bytes (not read). A rendered
//! branch is mostly what is rendered now: only what differs is read.

use std::cmp::Ordering;
use std::ops::Bound;

use git2::{ObjectType, Oid, TreeEntry};
use rayon::prelude::*;

use super::{Repo, failed};
use crate::Error;
use crate::content::{Content, tree_id, tree_order};
use crate::layout::Files;

/// A folder of the expected files: the id git gives it, and what it holds in tree order.
struct Folder<'f> {
    id: Oid,
    entries: Vec<(&'f str, Expected<'f>)>,
}

enum Expected<'f> {
    File { path: &'f str, content: &'f Content },
    Folder(Folder<'f>),
}

/// A file found in a tree: its content known already, or its blob to read.
pub(super) enum Found {
    Known(Content),
    Blob(Oid),
    /// A symbolic link or a submodule: its file mode.
    NotAFile(i32),
}

impl<'f> Folder<'f> {
    /// The folder holding `files` (full paths in order; the folder's own path is the first
    /// `at` bytes of each). A tree lists its entries by name, a folder's name compared as if it
    /// ended in `/`; that is the order of the full paths below it, so entries come as they are
    /// (see `git::children`).
    fn of(files: &[(&'f str, &'f Content)], at: usize) -> Folder<'f> {
        let entry = |(name, is_folder, group): (&'f str, bool, &[(&'f str, &'f Content)])| {
            let (path, content) = group[0];
            let entry = if is_folder {
                Expected::Folder(Folder::of(group, at + name.len() + 1))
            } else {
                Expected::File { path, content }
            };
            (name, entry)
        };
        let groups: Vec<_> = super::children(files, at).collect();
        // Large folders (the one holding every cluster) are hashed on every CPU.
        let entries: Vec<_> = if files.len() > 1024 {
            groups.into_par_iter().map(entry).collect()
        } else {
            groups.into_iter().map(entry).collect()
        };
        let id = tree_id(entries.iter().map(|(name, entry)| match entry {
            Expected::File { content, .. } => (*name, false, content.id()),
            Expected::Folder(folder) => (*name, true, folder.id),
        }));
        Folder { id, entries }
    }

    /// Every file of the folder, as known.
    fn take_all(&self, found: &mut Vec<(String, Found)>) {
        for (_, entry) in &self.entries {
            match entry {
                Expected::File { path, content } => {
                    found.push((path.to_string(), Found::Known((*content).clone())))
                }
                Expected::Folder(folder) => folder.take_all(found),
            }
        }
    }
}

impl Repo {
    /// Every file at or under `entry` (whose path is `path`) in path order, as the files
    /// `expected` holds under `path` know it or as a blob to read.
    pub(super) fn walk_against(
        &self,
        entry: &TreeEntry<'_>,
        path: &str,
        expected: &Files,
        found: &mut Vec<(String, Found)>,
    ) -> Result<(), Error> {
        let inside = format!("{path}/");
        let under: Vec<(&str, &Content)> = expected
            .range::<str, _>((Bound::Included(inside.as_str()), Bound::Unbounded))
            .take_while(|(file, _)| file.starts_with(&inside))
            .map(|(file, content)| (file.as_str(), content))
            .collect();
        let folder = (!under.is_empty()).then(|| Folder::of(&under, inside.len()));
        self.walk_expecting(entry, path, folder.as_ref(), found)
    }

    /// Every file at or under `entry` (whose path is `path`) in path order, as `expected` (the
    /// same folder of the expected files, if any) knows it or as a blob to read.
    fn walk_expecting(
        &self,
        entry: &TreeEntry<'_>,
        path: &str,
        expected: Option<&Folder<'_>>,
        found: &mut Vec<(String, Found)>,
    ) -> Result<(), Error> {
        if entry.kind() != Some(ObjectType::Tree) {
            found.push((path.to_string(), Found::of(entry)));
            return Ok(());
        }
        if let Some(folder) = expected.filter(|f| f.id == entry.id()) {
            folder.take_all(found);
            return Ok(());
        }
        let tree = self
            .repo
            .find_tree(entry.id())
            .map_err(failed(format!("reading the folder {path}")))?;
        let mut expected_entries = expected.map_or(&[][..], |f| &f.entries[..]);
        for child in tree.iter() {
            let name = String::from_utf8_lossy(child.name_bytes());
            let is_folder = child.kind() == Some(ObjectType::Tree);
            // Both lists are in tree order: skip what the tree does not hold.
            while let Some((other, entry)) = expected_entries.first()
                && tree_order(
                    other,
                    matches!(entry, Expected::Folder(_)),
                    name.as_ref(),
                    is_folder,
                ) == Ordering::Less
            {
                expected_entries = &expected_entries[1..];
            }
            let same = expected_entries
                .first()
                .filter(|(other, _)| *other == name)
                .map(|(_, entry)| entry);
            let child_path = format!("{path}/{name}");
            match (same, is_folder) {
                (Some(Expected::Folder(folder)), true) => {
                    self.walk_expecting(&child, &child_path, Some(folder), found)?
                }
                (_, true) => self.walk_expecting(&child, &child_path, None, found)?,
                (Some(Expected::File { content, .. }), false)
                    if content.id() == child.id() && child.filemode() == 0o100644 =>
                {
                    found.push((child_path, Found::Known((*content).clone())))
                }
                (_, false) => found.push((child_path, Found::of(&child))),
            }
        }
        Ok(())
    }
}

impl Found {
    /// A file entry of a tree, to be read.
    pub(super) fn of(entry: &TreeEntry<'_>) -> Found {
        if super::read::is_regular_file(entry) {
            Found::Blob(entry.id())
        } else {
            Found::NotAFile(entry.filemode())
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::testing::*;
    use super::*;
    use crate::layout::Files;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn reading_against_any_expected_files_reads_what_the_tree_holds(
            held in some_files(),
            expected in some_files(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repo::init_bare(dir.path()).unwrap();
            let id = commit(&repo, &[], &held, 1);
            // Expected by id alone: what comes back without its text was not read.
            let expected: Files = expected.iter().map(|(p, c)| (p.clone(), c.id_only())).collect();
            let read = repo.read_files_expecting(id, &["c"], &expected).unwrap();
            prop_assert_eq!(&read, &held);
            for (path, content) in &read {
                if expected.get(path) == Some(content) {
                    prop_assert!(content.text().is_none(), "{} is read, not shared", path);
                } else {
                    prop_assert_eq!(content.text(), held[path].text());
                }
            }
        }
    }

    #[test]
    fn the_expected_folder_ids_are_those_git_writes() {
        let held = files(&[
            ("c/a", "1"),
            ("c/a-b/x", "2"),
            ("c/a.yaml", "3"),
            ("c/a0/b/c", "4"),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let tree = repo.write_tree(&held).unwrap();
        let under: Vec<(&str, &Content)> = held.iter().map(|(p, t)| (p.as_str(), t)).collect();
        let folder = Folder::of(&under, "c/".len());
        let c = repo
            .repo
            .find_tree(tree)
            .unwrap()
            .get_name("c")
            .unwrap()
            .id();
        assert_eq!(folder.id, c);
    }
}
