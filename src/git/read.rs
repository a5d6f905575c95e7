//! Reading files out of a commit's tree: the rendered files, or a fleet's input files.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use git2::{ErrorCode, ObjectType, Oid, Tree, TreeEntry};

use super::expect::Found;
use super::{Repo, failed, short};
use crate::Error;
use crate::content::Content;
use crate::diagnostic::{Diagnostic, Diagnostics, Origin};
use crate::layout::Files;
use crate::load::{FLEET_FILE, FLEET_FOLDERS, FileKind, FleetFiles, too_large};

/// The file mode of a symbolic link in a git tree.
const LINK: i32 = 0o120000;

impl Repo {
    /// Every file under the folders `prefixes` (such as `["clusters", ".fleeet"]`) of `commit`,
    /// by path from the root of the tree. A missing folder holds nothing; a file that is not
    /// UTF-8 text, a symbolic link or a submodule is an error naming its path.
    pub fn read_files(&self, commit: Oid, prefixes: &[&str]) -> Result<Files, Error> {
        self.read_files_expecting(commit, prefixes, &Files::new())
    }

    /// [`Repo::read_files`], where what `expected` holds is taken from it rather than read: a
    /// folder whose id is the one git gives the same folder of `expected` is not even walked,
    /// and a file whose blob id is that of the content `expected` holds at its path is not read
    /// (the content is shared, not copied, with or without its text). A rendered branch is mostly what is rendered now, and
    /// hashing texts costs less than inflating trees and blobs out of a pack: only the folders
    /// and files that differ are read (see `expect`).
    pub fn read_files_expecting(
        &self,
        commit: Oid,
        prefixes: &[&str],
        expected: &Files,
    ) -> Result<Files, Error> {
        let root = self.commit_tree(commit)?;
        let mut found = Vec::new();
        for prefix in prefixes {
            let Some(entry) = self.entry(&root, commit, prefix)? else {
                continue;
            };
            self.walk_against(&entry, prefix, expected, &mut found)?;
        }
        self.contents(commit, found)
    }

    /// The files `found` in `commit`, their blobs read. A file that is not UTF-8 text, a
    /// symbolic link or a submodule is an error naming its path.
    pub(super) fn contents(
        &self,
        commit: Oid,
        found: Vec<(String, Found)>,
    ) -> Result<Files, Error> {
        let shown = format!("{}:", short(commit));
        // Many clusters share files byte for byte (kustomization.yaml): read each blob once.
        let mut texts: HashMap<Oid, Option<Arc<str>>> = HashMap::new();
        let mut problems = Diagnostics::default();
        let mut files = Vec::with_capacity(found.len());
        for (path, found) in found {
            let content = match found {
                Found::Known(content) => Some(content),
                Found::Blob(id) => match texts.get(&id) {
                    Some(text) => text.clone(),
                    None => {
                        let text = self.text(id)?;
                        texts.insert(id, text.clone());
                        text
                    }
                }
                .map(|text| Content::read(id, text)),
                Found::NotAFile(mode) => {
                    problems.push(not_a_file(&shown, &path, mode));
                    continue;
                }
            };
            match content {
                Some(content) => files.push((path, content)),
                None => problems.push(not_utf8(&shown, &path)),
            }
        }
        problems
            .into_result(files.into_iter().collect())
            .map_err(Error::Invalid)
    }

    /// The fleet's input files (see [`FleetFiles::read_dir`]) in the folder `subdir` of
    /// `commit`'s tree (`""` for the root), as a pull request's head is read without a checkout.
    /// Diagnostics show paths as `<commit>:<subdir>/<path>`. Symbolic links are reported, never
    /// followed.
    pub fn read_fleet_files(&self, commit: Oid, subdir: &str) -> Result<FleetFiles, Error> {
        let subdir = subdir.trim_matches('/');
        let subdir = if subdir == "." { "" } else { subdir };
        let root = self.commit_tree(commit)?;
        let fleet_root = if subdir.is_empty() {
            root
        } else {
            let not_a_fleet = |reason: &str| Error::NotAFleet {
                path: format!("{}:{subdir}", short(commit)).into(),
                reason: reason.into(),
            };
            let entry = self
                .entry(&root, commit, subdir)?
                .ok_or_else(|| not_a_fleet("the commit has no such folder"))?;
            if entry.kind() != Some(ObjectType::Tree) {
                return Err(not_a_fleet("it is not a folder"));
            }
            self.repo
                .find_tree(entry.id())
                .map_err(failed(format!("reading {}:{subdir}", short(commit))))?
        };

        let display_root = match subdir {
            "" => format!("{}:", short(commit)),
            _ => format!("{}:{subdir}/", short(commit)),
        };
        let mut files = FleetFiles::new(display_root.clone());
        let mut problems = Diagnostics::default();
        let mut wanted = Vec::new();
        for name in [FLEET_FILE].into_iter().chain(FLEET_FOLDERS) {
            let Some(entry) = fleet_root.get_name(name) else {
                continue;
            };
            self.walk(&entry, name, None, &mut |path, entry| {
                if entry.filemode() == LINK {
                    problems.push(
                        Diagnostic::new(
                            Origin::file(&format!("{display_root}{path}").into()),
                            "is a symbolic link; fleeet does not follow links",
                        )
                        .hint("replace the link with the file it points to"),
                    );
                } else if is_regular_file(entry) && FileKind::of(path).is_some() {
                    wanted.push((path.to_string(), entry.id()));
                }
                Ok(())
            })?;
        }
        for (path, id) in wanted {
            if let Some(problem) = too_large(&format!("{display_root}{path}"), self.size(id)?) {
                problems.push(problem);
                continue;
            }
            match self.text(id)? {
                Some(text) => {
                    files.insert(path, text.as_ref());
                }
                None => problems.push(not_utf8(&display_root, &path)),
            }
        }
        problems.into_result(files).map_err(Error::Invalid)
    }

    /// The tree of `commit`.
    pub(super) fn commit_tree(&self, commit: Oid) -> Result<Tree<'_>, Error> {
        self.find_commit(commit)?
            .tree()
            .map_err(failed(format!("reading the tree of commit {commit}")))
    }

    /// The entry at `path` of `tree` (the tree of `commit`), if there is one.
    pub(super) fn entry(
        &self,
        tree: &Tree<'_>,
        commit: Oid,
        path: &str,
    ) -> Result<Option<TreeEntry<'static>>, Error> {
        match tree.get_path(Path::new(path)) {
            Ok(entry) => Ok(Some(entry)),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(failed(format!("reading {}:{path}", short(commit)))(e)),
        }
    }

    /// The size of blob `id` in bytes, read without reading the blob.
    fn size(&self, id: Oid) -> Result<u64, Error> {
        let odb = self
            .repo
            .odb()
            .map_err(failed("opening the object database"))?;
        let (size, _) = odb
            .read_header(id)
            .map_err(failed(format!("reading blob {id}")))?;
        Ok(size as u64)
    }

    /// The content of blob `id` as text, `None` if it is not UTF-8.
    pub(super) fn text(&self, id: Oid) -> Result<Option<Arc<str>>, Error> {
        let blob = self
            .repo
            .find_blob(id)
            .map_err(failed(format!("reading blob {id}")))?;
        Ok(std::str::from_utf8(blob.content()).ok().map(Arc::from))
    }

    /// The tree of `entry`, whose path is `path`, if it is a folder.
    pub(super) fn folder(
        &self,
        entry: &TreeEntry<'_>,
        path: &str,
    ) -> Result<Option<Tree<'_>>, Error> {
        if entry.kind() != Some(ObjectType::Tree) {
            return Ok(None);
        }
        self.repo
            .find_tree(entry.id())
            .map(Some)
            .map_err(failed(format!("reading the folder {path}")))
    }

    /// Calls `visit` with the path and entry of every file (anything but a folder) at or under
    /// `entry`, whose path is `path`, in path order, leaving out what is at `skip` (a full
    /// path), if any.
    pub(super) fn walk(
        &self,
        entry: &TreeEntry<'_>,
        path: &str,
        skip: Option<&str>,
        visit: &mut dyn FnMut(&str, &TreeEntry<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if skip == Some(path) {
            return Ok(());
        }
        let Some(tree) = self.folder(entry, path)? else {
            return visit(path, entry);
        };
        for child in tree.iter() {
            let name = String::from_utf8_lossy(child.name_bytes());
            self.walk(&child, &format!("{path}/{name}"), skip, visit)?;
        }
        Ok(())
    }
}

/// Whether `entry` is a plain (possibly executable) file.
pub(super) fn is_regular_file(entry: &TreeEntry<'_>) -> bool {
    entry.kind() == Some(ObjectType::Blob) && entry.filemode() != LINK
}

fn not_a_file(shown: &str, path: &str, mode: i32) -> Diagnostic {
    let what = if mode == LINK {
        "is a symbolic link"
    } else {
        "is a submodule"
    };
    Diagnostic::new(
        Origin::file(&format!("{shown}{path}").into()),
        format!("{what}; fleeet writes only plain files here"),
    )
}

fn not_utf8(shown: &str, path: &str) -> Diagnostic {
    Diagnostic::new(
        Origin::file(&format!("{shown}{path}").into()),
        "is not UTF-8 text",
    )
}

#[cfg(test)]
mod tests {
    use git2::Signature;

    use super::super::testing::*;
    use super::*;

    /// A commit whose tree holds `files` plus a symbolic link at `link`, written the way git
    /// writes one: a blob holding the target, with mode 120000.
    fn commit_with_link(repo: &Repo, files: &Files, link: &str, target: &str) -> Oid {
        let mut index = git2::Index::new().unwrap();
        for (path, text) in files {
            add(
                repo,
                &mut index,
                path,
                text.text().unwrap().as_bytes(),
                0o100644,
            );
        }
        add(repo, &mut index, link, target.as_bytes(), 0o120000);
        let tree = index.write_tree_to(&repo.repo).unwrap();
        let tree = repo.repo.find_tree(tree).unwrap();
        let who = Signature::new("t", "t@example.com", &git2::Time::new(1, 0)).unwrap();
        repo.repo.commit(None, &who, &who, "t", &tree, &[]).unwrap()
    }

    fn add(repo: &Repo, index: &mut git2::Index, path: &str, bytes: &[u8], mode: u32) {
        let id = repo.repo.blob(bytes).unwrap();
        let mut entry = git2::IndexEntry {
            ctime: git2::IndexTime::new(0, 0),
            mtime: git2::IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode,
            uid: 0,
            gid: 0,
            file_size: bytes.len() as u32,
            id,
            flags: 0,
            flags_extended: 0,
            path: path.as_bytes().to_vec(),
        };
        entry.flags = path.len().min(0xfff) as u16;
        index.add(&entry).unwrap();
    }

    #[test]
    fn files_as_expected_are_taken_from_the_expected_contents_the_others_read() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path()).unwrap();
        let id = commit(
            &repo,
            &[],
            &files(&[("c/a.yaml", "same"), ("c/b.yaml", "old")]),
            1,
        );
        // Expected by id alone, as rendered pointers are.
        let expected: Files =
            files(&[("c/a.yaml", "same"), ("c/b.yaml", "new"), ("c/x.yaml", "x")])
                .into_iter()
                .map(|(path, content)| (path, content.id_only()))
                .collect();
        let read = repo.read_files_expecting(id, &["c"], &expected).unwrap();
        assert_eq!(read, files(&[("c/a.yaml", "same"), ("c/b.yaml", "old")]));
        assert_eq!(read["c/a.yaml"].text(), None, "shared, not read");
        assert_eq!(read["c/b.yaml"].text().map(|t| &**t), Some("old"));
    }

    #[test]
    fn reads_every_file_under_the_prefixes_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path()).unwrap();
        let all = files(&[
            ("README.md", "hello"),
            ("clusters/a/kustomization.yaml", "k"),
            ("clusters/a/ingress.yaml", "i"),
            ("clusters/a/ingress/release.yaml", "r"),
            ("clusters/b/kustomization.yaml", "k"),
            (".fleeet/rollouts/ingress.yaml", "w"),
        ]);
        let id = commit(&repo, &[], &all, 1);

        let read = repo
            .read_files(id, &["clusters", ".fleeet", "absent"])
            .unwrap();
        let mut expected = all.clone();
        expected.remove("README.md");
        assert_eq!(read, expected);
        // Identical blobs are read once and shared.
        assert!(Arc::ptr_eq(
            read["clusters/a/kustomization.yaml"].text().unwrap(),
            read["clusters/b/kustomization.yaml"].text().unwrap()
        ));
    }

    #[test]
    fn a_file_that_is_not_text_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path()).unwrap();
        let blob = repo.repo.blob(&[0xff, 0xfe]).unwrap();
        let mut builder = repo.repo.treebuilder(None).unwrap();
        builder.insert("x.yaml", blob, 0o100644).unwrap();
        let clusters = builder.write().unwrap();
        let mut builder = repo.repo.treebuilder(None).unwrap();
        builder.insert("clusters", clusters, 0o040000).unwrap();
        let tree = builder.write().unwrap();
        let id = repo.commit(&[], tree, "t", &identity(1)).unwrap();

        let Error::Invalid(problems) = repo.read_files(id, &["clusters"]).unwrap_err() else {
            panic!("expected diagnostics");
        };
        let problems: Vec<_> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [format!("{}:clusters/x.yaml: is not UTF-8 text", short(id))]
        );
    }

    #[test]
    fn a_link_in_the_rendered_tree_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path()).unwrap();
        let id = commit_with_link(
            &repo,
            &files(&[("clusters/a/k.yaml", "k")]),
            "clusters/b",
            "a",
        );
        let error = repo.read_files(id, &["clusters"]).unwrap_err();
        assert!(
            error.to_string().contains("clusters/b: is a symbolic link"),
            "{error}"
        );
    }

    #[test]
    fn reads_the_fleet_files_of_a_commit() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path()).unwrap();
        let id = commit(
            &repo,
            &[],
            &files(&[
                ("README.md", "not read"),
                ("fleet/fleet.yaml", "kind: Fleet"),
                ("fleet/clusters/a.yaml", "a"),
                ("fleet/clusters/notes.txt", "not read"),
                ("fleet/modules/ingress.yml", "m"),
                ("fleet/values/common.yaml", "v"),
                ("fleet/inventory/capi.yaml", "c"),
                ("fleet/other/x.yaml", "not read"),
            ]),
            1,
        );

        let fleet = repo.read_fleet_files(id, "fleet/").unwrap();
        assert_eq!(fleet.display_root, format!("{}:fleet/", short(id)));
        let paths: Vec<_> = fleet.files.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "clusters/a.yaml",
                "fleet.yaml",
                "inventory/capi.yaml",
                "modules/ingress.yml",
                "values/common.yaml"
            ]
        );
        assert_eq!(fleet.files["fleet.yaml"], "kind: Fleet");

        let at_root = repo.read_fleet_files(id, "").unwrap();
        assert!(at_root.files.is_empty());
        assert_eq!(at_root.display_root, format!("{}:", short(id)));

        let error = repo.read_fleet_files(id, "nowhere").unwrap_err();
        assert!(matches!(error, Error::NotAFleet { .. }), "{error}");
        let error = repo.read_fleet_files(id, "README.md").unwrap_err();
        assert!(error.to_string().contains("it is not a folder"), "{error}");
    }

    #[test]
    fn a_link_among_the_fleet_files_is_reported_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path()).unwrap();
        let id = commit_with_link(
            &repo,
            &files(&[("fleet.yaml", "kind: Fleet"), ("secret.yaml", "s")]),
            "clusters/a.yaml",
            "../secret.yaml",
        );
        let Error::Invalid(problems) = repo.read_fleet_files(id, ".").unwrap_err() else {
            panic!("expected diagnostics");
        };
        let problems: Vec<_> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with(&format!(
                "{}:clusters/a.yaml: is a symbolic link; fleeet does not follow links",
                short(id)
            )),
            "{problems:?}"
        );
    }
}
