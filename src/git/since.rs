//! Since when something has held on a branch, from its first-parent history.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use git2::{Commit, ObjectType, Oid, Tree};
use jiff::Timestamp;

use super::{Repo, failed, short};
use crate::Error;
use crate::diagnostic::{Diagnostic, Origin};

impl Repo {
    /// The committer time of the oldest commit of the unbroken first-parent run from `tip` in
    /// which `holds` is true of the file at `path` (its text, `None` where it is absent); `None`
    /// if it does not hold at `tip`. For example: since when the rollout record of a module has
    /// said that its wave 2 is applied. A merge commit counts as the time its change landed.
    /// `holds` is asked again only where the file's blob changes between commits.
    pub fn since(
        &self,
        tip: Oid,
        path: &str,
        mut holds: impl FnMut(Option<&str>) -> bool,
    ) -> Result<Option<Timestamp>, Error> {
        let mut commit = self.find_commit(tip)?;
        let mut blob = self.blob_at(&commit, path)?;
        if !holds(self.text_at(&commit, path, blob)?.as_deref()) {
            return Ok(None);
        }
        while let Some(parent) = commit.parent_ids().next() {
            let parent = self.find_commit(parent)?;
            let parent_blob = self.blob_at(&parent, path)?;
            if parent_blob != blob {
                if !holds(self.text_at(&parent, path, parent_blob)?.as_deref()) {
                    break;
                }
                blob = parent_blob;
            }
            commit = parent;
        }
        committed(&commit).map(Some)
    }

    /// When each of `paths` last changed on the first-parent history from `tip`: the committer
    /// time of the newest commit that added, modified or removed it (the root commit counts as
    /// adding what it holds). Each path comes with whether the tip holds a file there (the
    /// caller read the tip's tree), which is what the root holds of the paths no commit since
    /// changed. A path that never existed is left out. One walk answers every path: each
    /// commit is compared with its first parent as a tree diff, which skips the folders whose
    /// ids did not change, and the walk stops once every path is answered.
    pub fn last_changed(
        &self,
        tip: Oid,
        paths: &BTreeMap<String, bool>,
    ) -> Result<HashMap<String, Timestamp>, Error> {
        let mut pending: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
        let mut landed = HashMap::with_capacity(paths.len());
        let mut next = Some(self.find_commit(tip)?);
        while let Some(commit) = next.take() {
            if pending.is_empty() {
                break;
            }
            let context = || format!("comparing commit {} with its parent", commit.id());
            let parent = match commit.parent_ids().next() {
                Some(id) => Some(self.find_commit(id)?),
                None => None,
            };
            let tree = commit.tree().map_err(failed(context()))?;
            let parent_tree = match &parent {
                Some(parent) => Some(parent.tree().map_err(failed(context()))?),
                None => None,
            };
            let mut changed = Vec::new();
            if parent_tree.as_ref().is_none_or(|t| t.is_empty()) {
                // A commit on nothing (the root, or fleeet's empty root commit) added what it
                // holds: of the paths no later commit changed, what the tip holds.
                changed.extend(pending.iter().filter(|p| paths[**p]).map(|p| p.to_string()));
            } else {
                self.changed_among(
                    parent_tree.as_ref(),
                    Some(&tree),
                    "",
                    &pending,
                    &mut changed,
                )?;
            }
            if !changed.is_empty() {
                let time = committed(&commit)?;
                for path in changed {
                    pending.remove(path.as_str());
                    landed.insert(path, time);
                }
            }
            next = parent;
        }
        Ok(landed)
    }

    /// The paths of `pending` at or under the folder `at` (`""` or a path ending in `/`) whose
    /// file differs between the trees `old` and `new` of that folder: added, modified or
    /// removed. Only the folders that hold pending paths and whose ids differ are read, so a
    /// commit costs the folders it changed among those asked about, not a diff of its tree.
    fn changed_among(
        &self,
        old: Option<&Tree<'_>>,
        new: Option<&Tree<'_>>,
        at: &str,
        pending: &BTreeSet<&str>,
        changed: &mut Vec<String>,
    ) -> Result<(), Error> {
        let mut under = pending
            .range::<str, _>((std::ops::Bound::Included(at), std::ops::Bound::Unbounded))
            .take_while(|path| path.starts_with(at))
            .peekable();
        while let Some(first) = under.next() {
            let rest = &first[at.len()..];
            let name = rest.split('/').next().unwrap_or(rest);
            let inside = format!("{at}{name}/");
            let mut deeper = rest.len() > name.len();
            while under.peek().is_some_and(|p| p.starts_with(&inside)) {
                under.next();
                deeper = true;
            }
            let was = old.and_then(|tree| tree.get_name(name));
            let is = new.and_then(|tree| tree.get_name(name));
            let same = |a: &git2::TreeEntry<'_>, b: &git2::TreeEntry<'_>| {
                a.id() == b.id() && a.filemode() == b.filemode()
            };
            match (&was, &is) {
                (None, None) => continue,
                (Some(a), Some(b)) if same(a, b) => continue,
                _ => {}
            }
            let file = |e: &Option<git2::TreeEntry<'_>>| {
                e.as_ref()
                    .is_some_and(|e| e.kind() != Some(ObjectType::Tree))
            };
            let path = &first[..at.len() + name.len()];
            if pending.contains(path) && (file(&was) || file(&is)) {
                changed.push(path.to_string());
            }
            if deeper {
                let subtree = |e: &Option<git2::TreeEntry<'_>>| match e {
                    Some(e) => self.folder(e, &inside),
                    None => Ok(None),
                };
                let (was, is) = (subtree(&was)?, subtree(&is)?);
                self.changed_among(was.as_ref(), is.as_ref(), &inside, pending, changed)?;
            }
        }
        Ok(())
    }

    /// The id of the file at `path` in `commit`, if there is a file there.
    fn blob_at(&self, commit: &Commit<'_>, path: &str) -> Result<Option<Oid>, Error> {
        let tree = commit.tree().map_err(failed(format!(
            "reading the tree of commit {}",
            commit.id()
        )))?;
        let entry = self.entry(&tree, commit.id(), path)?;
        Ok(entry
            .filter(|e| e.kind() == Some(ObjectType::Blob))
            .map(|e| e.id()))
    }

    /// The text of `blob`, the file at `path` in `commit`.
    fn text_at(
        &self,
        commit: &Commit<'_>,
        path: &str,
        blob: Option<Oid>,
    ) -> Result<Option<Arc<str>>, Error> {
        let Some(blob) = blob else {
            return Ok(None);
        };
        match self.text(blob)? {
            Some(text) => Ok(Some(text)),
            None => {
                let shown = format!("{}:{path}", short(commit.id()));
                let problem = Diagnostic::new(Origin::file(&shown.into()), "is not UTF-8 text");
                Err(Error::Invalid(problem.into()))
            }
        }
    }
}

/// The committer time of `commit`.
fn committed(commit: &Commit<'_>) -> Result<Timestamp, Error> {
    Timestamp::from_second(commit.committer().when().seconds()).map_err(|e| Error::Git {
        context: format!("reading the time of commit {}", commit.id()),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    const RECORD: &str = ".fleeet/rollouts/ingress.yaml";

    /// A branch whose commits at times 10, 20, ... hold the rollout record `records[i]`.
    fn branch(repo: &Repo, records: &[Option<&str>]) -> Vec<Oid> {
        let mut ids: Vec<Oid> = Vec::new();
        for (i, record) in records.iter().enumerate() {
            let mut files = files(&[("clusters/a/k.yaml", &format!("commit {i}"))]);
            if let Some(record) = record {
                files.insert(RECORD.into(), (*record).into());
            }
            let parents: Vec<Oid> = ids.last().copied().into_iter().collect();
            ids.push(commit(repo, &parents, &files, 10 * (i as i64 + 1)));
        }
        ids
    }

    fn at(second: i64) -> Option<Timestamp> {
        Some(Timestamp::from_second(second).unwrap())
    }

    #[test]
    fn finds_the_oldest_commit_of_the_run_that_holds() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let ids = branch(
            &repo,
            &[
                None,
                Some("applied: 1"),
                Some("applied: 1, 2"),
                Some("applied: 1, 2"),
                None,
            ],
        );
        let wave2 = |text: Option<&str>| text.is_some_and(|t| t.contains('2'));
        let wave1 = |text: Option<&str>| text.is_some_and(|t| t.contains('1'));

        assert_eq!(repo.since(ids[3], RECORD, wave2).unwrap(), at(30));
        assert_eq!(repo.since(ids[3], RECORD, wave1).unwrap(), at(20));
        assert_eq!(repo.since(ids[4], RECORD, wave1).unwrap(), None);
        assert_eq!(repo.since(ids[4], RECORD, |t| t.is_none()).unwrap(), at(50));
        // Holding since the root commit.
        assert_eq!(
            repo.since(ids[2], "clusters/a/k.yaml", |t| t.is_some())
                .unwrap(),
            at(10)
        );
    }

    #[test]
    fn asks_only_where_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let mut records = vec![None];
        records.extend([Some("applied: 1"); 20]);
        let ids = branch(&repo, &records);

        let mut asked = Vec::new();
        let since = repo
            .since(*ids.last().unwrap(), RECORD, |text| {
                asked.push(text.map(str::to_string));
                text.is_some()
            })
            .unwrap();
        assert_eq!(since, at(20));
        assert_eq!(asked, [Some("applied: 1".to_string()), None]);
    }

    #[test]
    fn a_merged_pull_request_counts_from_its_merge() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let ids = branch(&repo, &[None]);
        let applied = files(&[(RECORD, "applied: 1")]);
        // The pull request's commit is made at 100 and merged at 500.
        let proposed = commit(&repo, &[ids[0]], &applied, 100);
        let merge = commit(&repo, &[ids[0], proposed], &applied, 500);
        let later = commit(&repo, &[merge], &applied, 600);

        assert_eq!(repo.since(later, RECORD, |t| t.is_some()).unwrap(), at(500));
    }

    #[test]
    fn tells_when_each_path_last_changed_in_one_walk() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let root = commit(
            &repo,
            &[],
            &files(&[("c/a.yaml", "1"), ("c/b.yaml", "1")]),
            10,
        );
        let changed = files(&[("c/a.yaml", "2"), ("c/b.yaml", "1"), ("c/d.yaml", "1")]);
        let second = commit(&repo, &[root], &changed, 20);
        // A pull request removing c/d.yaml, made at 25 and merged at 30.
        let removed = files(&[("c/a.yaml", "2"), ("c/b.yaml", "1")]);
        let proposed = commit(&repo, &[second], &removed, 25);
        let merge = commit(&repo, &[second, proposed], &removed, 30);
        let tip = commit(&repo, &[merge], &removed, 40);

        let held = |path: &str| (path.to_string(), ["c/a.yaml", "c/b.yaml"].contains(&path));
        let paths = ["c/a.yaml", "c/b.yaml", "c/d.yaml", "c/never.yaml"]
            .map(held)
            .into();
        let landed = repo.last_changed(tip, &paths).unwrap();
        let expected = [("c/a.yaml", 20), ("c/b.yaml", 10), ("c/d.yaml", 30)]
            .map(|(path, second)| (path.to_string(), at(second).unwrap()));
        assert_eq!(landed, HashMap::from(expected));
        assert!(repo.last_changed(tip, &BTreeMap::new()).unwrap().is_empty());
    }

    #[test]
    fn a_commit_on_the_empty_root_adds_what_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init_bare(dir.path()).unwrap();
        let root = commit(&repo, &[], &files(&[]), 5);
        let first = commit(
            &repo,
            &[root],
            &files(&[("c/a.yaml", "1"), ("c/b.yaml", "1")]),
            10,
        );
        let tip = commit(
            &repo,
            &[first],
            &files(&[("c/a.yaml", "2"), ("c/b.yaml", "1")]),
            20,
        );
        let paths = [
            ("c/a.yaml", true),
            ("c/b.yaml", true),
            ("c/never.yaml", false),
        ]
        .map(|(path, held)| (path.to_string(), held))
        .into();
        let landed = repo.last_changed(tip, &paths).unwrap();
        let expected = [("c/a.yaml", 20), ("c/b.yaml", 10)]
            .map(|(path, second)| (path.to_string(), at(second).unwrap()));
        assert_eq!(landed, HashMap::from(expected));
    }

    /// When `path` last changed, found the slow way: each first-parent commit from `tip`
    /// compared with its parent at that path.
    fn last_changed_one_by_one(repo: &Repo, tip: Oid, path: &str) -> Option<Timestamp> {
        // The file at `path` in a commit: its blob and mode, none if there is no file there.
        let file = |commit: &Commit<'_>| {
            let tree = commit.tree().unwrap();
            let entry = repo.entry(&tree, commit.id(), path).unwrap();
            let entry = entry.filter(|e| e.kind() == Some(ObjectType::Blob));
            entry.map(|e| (e.id(), e.filemode()))
        };
        let mut commit = repo.find_commit(tip).unwrap();
        loop {
            let parent = commit
                .parent_ids()
                .next()
                .map(|id| repo.find_commit(id).unwrap());
            match &parent {
                None => return file(&commit).map(|_| committed(&commit).unwrap()),
                Some(parent) if file(parent) != file(&commit) => {
                    return Some(committed(&commit).unwrap());
                }
                Some(parent) => commit = parent.clone(),
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn last_changed_agrees_with_comparing_every_commit(
            history in proptest::collection::vec(some_files(), 1..6),
            asked in proptest::collection::btree_set(path(), 0..12),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repo::init_bare(dir.path()).unwrap();
            let mut tip: Option<Oid> = None;
            for (i, files) in history.iter().enumerate() {
                let parents: Vec<Oid> = tip.into_iter().collect();
                tip = Some(commit(&repo, &parents, files, 10 * (i as i64 + 1)));
            }
            let (tip, last) = (tip.unwrap(), history.last().unwrap());
            let paths = asked.iter().map(|p| (p.clone(), last.contains_key(p))).collect();
            let landed = repo.last_changed(tip, &paths).unwrap();
            for path in &asked {
                proptest::prop_assert_eq!(
                    landed.get(path).copied(),
                    last_changed_one_by_one(&repo, tip, path),
                    "{}", path
                );
            }
        }
    }
}
