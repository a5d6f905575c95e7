//! The rendered branch at a commit, as the rollout planner reads it.

use std::collections::{BTreeMap, BTreeSet};

use git2::{ObjectType, Oid};

use super::expect::Found;
use super::{Repo, failed};
use crate::Error;
use crate::layout::{Files, Layout};
use crate::render::Rendered;
use crate::rollout::{CurrentState, RolloutRecord, read_records};
use crate::timing::stage;

impl Repo {
    /// The top-level folders fleeet owns on a rendered branch whose clusters are under `path`.
    pub fn managed_folders(path: &str) -> [&str; 2] {
        [path.split('/').next().unwrap_or(path), ".fleeet"]
    }

    /// The state of the rendered branch at `tip` (nothing rendered yet when `None`), with the
    /// time each pointer of a rollout in progress landed, from first-parent history.
    ///
    /// The rollout records are read first, and `expect` says from them what the branch holds:
    /// a cluster folder whose id is the one git gives the files of its pointers there is taken
    /// from those pointers, not even walked; in the other folders, a file whose blob id is the
    /// expected one is not read (see [`Repo::read_files_expecting`]). A branch mid-rollout
    /// holds what its records say, so it costs what differs from them, not what it holds.
    pub fn current_state(
        &self,
        tip: Option<Oid>,
        layout: Layout<'_>,
        expect: impl FnOnce(&BTreeMap<String, RolloutRecord>) -> Rendered,
    ) -> Result<CurrentState, Error> {
        let Some(tip) = tip else {
            return Ok(CurrentState {
                landed_at: Some(Default::default()),
                ..CurrentState::default()
            });
        };
        let [top, fleeet] = Self::managed_folders(layout.path);
        let mut files = self.read_files(tip, &[fleeet])?;
        let (records, notes) = read_records(&files);
        let expected = crate::free::FreeLater::new(stage("expect", || expect(&records)));
        let (rendered, matched) = stage("read the current tree", || {
            self.read_clusters(tip, top, layout, &expected)
        })?;
        files.extend(rendered);
        let mut state = stage("parse the current tree", || {
            CurrentState::from_parts(files, layout.path, &expected, &matched, records, notes)
        });
        let paths = state.history_paths(layout.path);
        let landed_at = stage("read history", || self.last_changed(tip, &paths))?;
        state.landed_at = Some(landed_at);
        Ok(state)
    }

    /// The files under the folder `top` of `tip`, but for the cluster folders (under
    /// `layout.path`) holding exactly the files of their own pointers in `expected`: those
    /// clusters are returned instead, unread.
    fn read_clusters(
        &self,
        tip: Oid,
        top: &str,
        layout: Layout<'_>,
        expected: &Rendered,
    ) -> Result<(Files, BTreeSet<String>), Error> {
        let root = self.commit_tree(tip)?;
        let clusters = match self.entry(&root, tip, layout.path)? {
            Some(entry) if entry.kind() == Some(ObjectType::Tree) => Some(
                self.repo
                    .find_tree(entry.id())
                    .map_err(failed(format!("reading the folder {}", layout.path)))?,
            ),
            _ => None,
        };
        let mut matched = BTreeSet::new();
        let mut differing = BTreeSet::new();
        for entry in clusters.iter().flat_map(|tree| tree.iter()) {
            let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
            let same = expected
                .clusters
                .get(&name)
                .and_then(|pointers| layout.own_folder_id(&name, pointers))
                .is_some_and(|id| id == entry.id() && entry.kind() == Some(ObjectType::Tree));
            if same {
                matched.insert(name);
            } else {
                differing.insert(name);
            }
        }

        // The rest is read against what it is expected to hold: the differing folders' files,
        // and (with the folder of clusters deeper than `top`) nothing else.
        let expected_files = layout.files_in(expected, &differing);
        let mut found = Vec::new();
        if top != layout.path {
            // Files beside the folder of clusters are read whole, as they are not fleeet's.
            let Some(entry) = self.entry(&root, tip, top)? else {
                return Ok((Files::new(), matched));
            };
            self.walk(&entry, top, Some(layout.path), &mut |path, entry| {
                found.push((path.to_string(), Found::of(entry)));
                Ok(())
            })?;
        }
        for entry in clusters.iter().flat_map(|tree| tree.iter()) {
            let name = String::from_utf8_lossy(entry.name_bytes());
            if matched.contains(name.as_ref()) {
                continue;
            }
            let path = format!("{}/{name}", layout.path);
            self.walk_against(&entry, &path, &expected_files, &mut found)?;
        }
        Ok((self.contents(tip, found)?, matched))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::super::testing::*;
    use super::*;
    use crate::render::{Pointer, Pointers};

    fn pointer(module: &str, version: &str, helm: bool) -> Pointer {
        let main = format!(
            "metadata:\n  name: {module}\n  annotations:\n    fleeet.dev/version: \"{version}\"\n"
        );
        Pointer {
            version: version.into(),
            revision: String::new(),
            main: main.as_str().into(),
            release: helm.then(|| format!("chart: {module}\nversion: {version}\n").into()),
            applied_from: None,
        }
    }

    /// Module names that sort around `/` and `.` in a tree: `a` (a helm module, so also the
    /// folder `a/`), `a-b`, `a0`.
    fn pointers(version: &str) -> Arc<Pointers> {
        Arc::new(Pointers::from_iter([
            ("a".to_string(), pointer("a", version, true)),
            ("a-b".to_string(), pointer("a-b", version, false)),
            ("a0".to_string(), pointer("a0", version, true)),
        ]))
    }

    #[test]
    fn the_id_of_a_cluster_folder_is_the_one_git_writes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let mut rendered = Rendered::default();
        rendered.clusters.insert("c1".into(), pointers("1"));
        rendered.clusters.insert("empty".into(), Default::default());
        let layout = Layout::plain("clusters");
        let tree = repo.write_tree(&layout.files(&rendered)).unwrap();
        let tree = repo.repo.find_tree(tree).unwrap();
        for (cluster, pointers) in &rendered.clusters {
            let written = tree.get_path(Path::new(&format!("clusters/{cluster}")));
            assert_eq!(
                layout.own_folder_id(cluster, pointers),
                Some(written.unwrap().id()),
                "{cluster}"
            );
        }
    }

    #[test]
    fn a_cluster_folder_holding_what_is_expected_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let layout = Layout::plain("clusters");
        let mut expected = Rendered::default();
        expected.clusters.insert("a".into(), pointers("2"));
        expected.clusters.insert("b".into(), pointers("2"));
        // The branch: `a` as expected, but its folder's tree is not in the repository (so
        // reading it fails); `b` one version behind.
        let mut held = Rendered::default();
        held.clusters.insert("b".into(), pointers("1"));
        let written = repo.write_tree(&layout.files(&held)).unwrap();
        let written = repo.repo.find_tree(written).unwrap();
        let b = written.get_path(Path::new("clusters/b")).unwrap().id();
        let a = layout.own_folder_id("a", &expected.clusters["a"]).unwrap();
        let mut clusters = repo.repo.treebuilder(None).unwrap();
        clusters.insert("a", a, 0o040000).unwrap();
        clusters.insert("b", b, 0o040000).unwrap();
        let clusters = clusters.write().unwrap();
        let mut root = repo.repo.treebuilder(None).unwrap();
        root.insert("clusters", clusters, 0o040000).unwrap();
        let root = root.write().unwrap();
        let tip = repo.commit(&[], root, "t", &identity(1)).unwrap();

        let state = repo
            .current_state(Some(tip), layout, |_| expected.clone())
            .unwrap();
        let versions = |cluster: &str| {
            let pointers = &state.branch.pointers.clusters[cluster];
            pointers
                .values()
                .map(|p| p.version.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(versions("a"), ["2", "2", "2"]);
        assert_eq!(versions("b"), ["1", "1", "1"]);
        assert!(state.notes.is_empty(), "{:?}", state.notes);

        let unexpected = repo.current_state(Some(tip), layout, |_| Rendered::default());
        let error = unexpected.expect_err("the folder of a cannot be read");
        assert!(error.to_string().contains(&a.to_string()), "{error}");
    }

    #[test]
    fn a_folder_of_clusters_deeper_than_the_root_is_read_beside_what_is_not_fleeets() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let layout = Layout::plain("fleet/clusters");
        let mut held = Rendered::default();
        held.clusters.insert("a".into(), pointers("2"));
        held.clusters.insert("b".into(), pointers("1"));
        let mut files = layout.files(&held);
        files.insert("fleet/README.md".into(), "not fleeet's".into());
        files.insert(".fleeet/notes".into(), "n".into());
        let tip = commit(&repo, &[], &files, 1);
        let mut expected = held.clone();
        expected.clusters.insert("b".into(), pointers("2"));

        let read =
            |expected: Rendered| repo.current_state(Some(tip), layout, |_| expected).unwrap();
        let (against, plain) = (read(expected), read(Rendered::default()));
        for state in [&against, &plain] {
            let versions: Vec<(String, String)> = state
                .branch
                .pointers
                .clusters
                .iter()
                .flat_map(|(c, p)| p.values().map(move |p| (c.clone(), p.version.clone())))
                .collect();
            assert_eq!(versions.len(), 6, "{versions:?}");
            assert!(
                versions
                    .iter()
                    .all(|(c, v)| v == if c == "a" { "2" } else { "1" })
            );
            let foreign: Vec<&String> = state.branch.foreign.keys().collect();
            assert_eq!(foreign, [".fleeet/notes", "fleet/README.md"]);
        }
    }
}
