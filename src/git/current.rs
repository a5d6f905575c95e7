//! The rendered branch at a commit, as the rollout planner reads it.

use std::collections::{BTreeMap, BTreeSet};

use git2::{ObjectType, Oid, Tree};
use rayon::iter::Either;
use rayon::prelude::*;

use super::Repo;
use super::expect::Found;
use crate::Error;
use crate::layout::{Files, Layout};
use crate::render::Rendered;
use crate::rollout::{CurrentState, RolloutRecord, Sampled, read_records};
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
    ///
    /// When many folders differ all the same (main moved modules no record names yet, so the
    /// branch still holds their earlier versions everywhere), a few of them are read first:
    /// the versions they hold of the modules that differ are passed to `expect` again as
    /// [`Sampled`], and what it expects then is checked by folder id like the rest.
    pub fn current_state(
        &self,
        tip: Option<Oid>,
        layout: Layout<'_>,
        expect: impl Fn(&BTreeMap<String, RolloutRecord>, &Sampled) -> Rendered,
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
        let expected = stage("expect", || expect(&records, &Sampled::new()));
        let (expected, matched, rendered) = stage("read the current tree", || {
            self.read_clusters(tip, top, layout, expected, |sampled| {
                stage("expect what the sample holds", || expect(&records, sampled))
            })
        })?;
        let expected = crate::free::FreeLater::new(expected);
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
    /// clusters are returned instead, unread. When many folders differ, a sample of them
    /// says what to expect again (`expect_again`). Returns what was expected in the end.
    fn read_clusters(
        &self,
        tip: Oid,
        top: &str,
        layout: Layout<'_>,
        mut expected: Rendered,
        expect_again: impl FnOnce(&Sampled) -> Rendered,
    ) -> Result<(Rendered, BTreeSet<String>, Files), Error> {
        let folders = self.cluster_folders(tip, layout.path)?;
        let (mut matched, mut differing) = classify(&folders, layout, &expected, None);
        if differing.len() > SAMPLE_ABOVE {
            let sample = sample_of(&differing, &expected);
            let sampled = self.sample(tip, &folders, layout, &expected, &sample)?;
            if !sampled.is_empty() {
                drop(crate::free::FreeLater::new(expected));
                expected = expect_again(&sampled);
                let (more, rest) = classify(&folders, layout, &expected, Some(&differing));
                matched.extend(more);
                differing = rest;
            }
        }
        let mut found = Vec::new();
        self.beside_clusters(tip, top, layout.path, &mut found)?;
        self.read_folders(&folders, layout, &expected, &differing, &mut found)?;
        let files = self.contents(tip, found)?;
        Ok((expected, matched, files))
    }

    /// The folder of cluster folders `path` of `tip`, if there is one.
    fn cluster_folders(&self, tip: Oid, path: &str) -> Result<Option<Tree<'_>>, Error> {
        let root = self.commit_tree(tip)?;
        match self.entry(&root, tip, path)? {
            Some(entry) => self.folder(&entry, path),
            None => Ok(None),
        }
    }

    /// The versions the cluster folders `sample` hold of the modules whose pointers there are
    /// not the expected ones, by module (the first seen).
    fn sample(
        &self,
        tip: Oid,
        folders: &Option<Tree<'_>>,
        layout: Layout<'_>,
        expected: &Rendered,
        sample: &BTreeSet<String>,
    ) -> Result<Sampled, Error> {
        let mut found = Vec::new();
        self.read_folders(folders, layout, expected, sample, &mut found)?;
        let read = crate::layout::parse(&self.contents(tip, found)?, layout.path, expected);
        let mut sampled = Sampled::new();
        for (cluster, pointers) in &read.pointers.clusters {
            let expected = expected.clusters.get(cluster);
            for (module, pointer) in pointers.iter() {
                let wanted = expected.and_then(|e| e.get(module));
                let differs = wanted.is_none_or(|w| w.main != pointer.main);
                let version = &pointer.version;
                if differs && !version.is_empty() && wanted.is_none_or(|w| w.version != *version) {
                    sampled
                        .entry(module.clone())
                        .or_insert_with(|| version.clone());
                }
            }
        }
        Ok(sampled)
    }

    /// Every file under `top` but those under `path` (the folder of clusters), when that is
    /// deeper: what is beside it is read whole, as it is not fleeet's.
    fn beside_clusters(
        &self,
        tip: Oid,
        top: &str,
        path: &str,
        found: &mut Vec<(String, Found)>,
    ) -> Result<(), Error> {
        if top == path {
            return Ok(());
        }
        let root = self.commit_tree(tip)?;
        let Some(entry) = self.entry(&root, tip, top)? else {
            return Ok(());
        };
        self.walk(&entry, top, Some(path), &mut |path, entry| {
            found.push((path.to_string(), Found::of(entry)));
            Ok(())
        })
    }

    /// The files of the cluster folders `names` (and whatever else stands among the cluster
    /// folders under those names), read against what `expected` holds there.
    fn read_folders(
        &self,
        folders: &Option<Tree<'_>>,
        layout: Layout<'_>,
        expected: &Rendered,
        names: &BTreeSet<String>,
        found: &mut Vec<(String, Found)>,
    ) -> Result<(), Error> {
        let expected_files = layout.files_in(expected, names);
        for entry in folders.iter().flat_map(|tree| tree.iter()) {
            let name = String::from_utf8_lossy(entry.name_bytes());
            if names.contains(name.as_ref()) {
                let path = format!("{}/{name}", layout.path);
                self.walk_against(&entry, &path, &expected_files, found)?;
            }
        }
        Ok(())
    }
}

/// How many cluster folders may differ from what is expected before a few are read to learn
/// what the others hold.
const SAMPLE_ABOVE: usize = 16;

/// How many differing cluster folders are read, at most, to learn what the others hold.
const SAMPLE: usize = 32;

/// The folders to read among `differing` to learn what the others hold: the first to be
/// expected to hold each module (so every module is seen where it differs), up to [`SAMPLE`].
fn sample_of(differing: &BTreeSet<String>, expected: &Rendered) -> BTreeSet<String> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut sample = BTreeSet::new();
    for cluster in differing {
        let modules = expected
            .clusters
            .get(cluster)
            .into_iter()
            .flat_map(|p| p.keys());
        let mut new = false;
        for module in modules {
            new |= seen.insert(module);
        }
        if new {
            sample.insert(cluster.clone());
        }
        if sample.len() == SAMPLE {
            break;
        }
    }
    sample
}

/// The cluster folders among `folders` (only those named in `among`, if given) that hold
/// exactly the files of their own pointers in `expected`, and the others. The ids of the
/// expected folders are computed on every CPU.
fn classify(
    folders: &Option<Tree<'_>>,
    layout: Layout<'_>,
    expected: &Rendered,
    among: Option<&BTreeSet<String>>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let entries: Vec<(String, Oid, bool)> = folders
        .iter()
        .flat_map(|tree| tree.iter())
        .map(|entry| {
            let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
            (name, entry.id(), entry.kind() == Some(ObjectType::Tree))
        })
        .filter(|(name, ..)| among.is_none_or(|among| among.contains(name)))
        .collect();
    let (matched, differing): (Vec<_>, Vec<_>) =
        entries
            .into_par_iter()
            .partition_map(|(name, id, is_folder)| {
                let same = expected
                    .clusters
                    .get(&name)
                    .and_then(|pointers| layout.own_folder_id(&name, pointers))
                    .is_some_and(|expected| is_folder && expected == id);
                if same {
                    Either::Left(name)
                } else {
                    Either::Right(name)
                }
            });
    (
        matched.into_iter().collect(),
        differing.into_iter().collect(),
    )
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
            .current_state(Some(tip), layout, |_, _| expected.clone())
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

        let unexpected = repo.current_state(Some(tip), layout, |_, _| Rendered::default());
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

        let read = |expected: Rendered| {
            repo.current_state(Some(tip), layout, |_, _| expected.clone())
                .unwrap()
        };
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

    #[test]
    fn when_many_folders_differ_a_sample_says_what_the_others_hold() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let layout = Layout::plain("clusters");
        let names: Vec<String> = (0..40).map(|c| format!("c{c:02}")).collect();
        // Every cluster holds version 1; main wants 2, and no record says so. Only the first
        // folder is in the repository (the sample: it holds every module); the others cannot
        // be read.
        let sample: Rendered = Rendered {
            clusters: names[..1]
                .iter()
                .map(|c| (c.clone(), pointers("1")))
                .collect(),
        };
        let written = repo.write_tree(&layout.files(&sample)).unwrap();
        let written = repo.repo.find_tree(written).unwrap();
        let mut clusters = repo.repo.treebuilder(None).unwrap();
        for name in &names {
            let id = match written.get_path(Path::new(&format!("clusters/{name}"))) {
                Ok(entry) => entry.id(),
                Err(_) => layout.own_folder_id(name, &pointers("1")).unwrap(),
            };
            clusters.insert(name, id, 0o040000).unwrap();
        }
        let clusters = clusters.write().unwrap();
        let mut root = repo.repo.treebuilder(None).unwrap();
        root.insert("clusters", clusters, 0o040000).unwrap();
        let tip = repo
            .commit(&[], root.write().unwrap(), "t", &identity(1))
            .unwrap();

        let asked = std::cell::RefCell::new(Vec::new());
        let state = repo
            .current_state(Some(tip), layout, |_, sampled| {
                asked.borrow_mut().push(sampled.clone());
                let version = sampled.get("a").map_or("2", String::as_str);
                Rendered {
                    clusters: names
                        .iter()
                        .map(|c| (c.clone(), pointers(version)))
                        .collect(),
                }
            })
            .unwrap();
        let asked = asked.into_inner();
        assert_eq!(asked.len(), 2);
        assert_eq!(asked[1].values().collect::<Vec<_>>(), ["1", "1", "1"]);
        let versions = state
            .branch
            .pointers
            .clusters
            .values()
            .flat_map(|p| p.values());
        assert!(versions.map(|p| p.version.as_str()).all(|v| v == "1"));
        assert_eq!(state.branch.pointers.clusters.len(), 40);
    }
}
