//! The rendered branch as the planner reads it: pointers, rollout records, landing times.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;

use super::record::RolloutRecord;
use crate::layout::{self, Branch, Files};
use crate::render::Rendered;

/// The rendered branch as the planner sees it.
#[derive(Clone, Debug, Default)]
pub struct CurrentState {
    pub branch: Branch,
    /// Rollout records by module.
    pub records: BTreeMap<String, RolloutRecord>,
    /// When each file's current content landed on the rendered branch (the committer time of
    /// the first-parent commit that last changed it), for the files asked by
    /// [`CurrentState::history_paths`]. `None` without history (a plain directory): then
    /// progress deadlines are not judged.
    pub landed_at: Option<HashMap<String, Timestamp>>,
    /// What was found on the branch but not understood.
    pub notes: Vec<String>,
}

impl CurrentState {
    /// Reads the rendered branch's files; clusters are under `path`. Pointer files known by
    /// their ids alone are `known`'s (see [`layout::parse`]).
    pub fn from_files(files: Files, path: &str, known: &Rendered) -> CurrentState {
        let (records, notes) = read_records(&files);
        Self::from_parts(files, path, known, &BTreeSet::new(), records, notes)
    }

    /// The state of a branch read in parts: its rollout records, read first (see
    /// [`read_records`]), and its other files, but for the folders of the clusters `matched`,
    /// found to hold their own pointers in `known` (see [`layout::parse_with_known_folders`]).
    pub fn from_parts(
        files: Files,
        path: &str,
        known: &Rendered,
        matched: &BTreeSet<String>,
        records: BTreeMap<String, RolloutRecord>,
        mut notes: Vec<String>,
    ) -> CurrentState {
        let branch = layout::parse_with_known_folders(&files, path, known, matched);
        // The branch holds what it needs of them: they are freed on a thread of their own.
        drop(crate::free::FreeLater::new(files));
        notes.splice(0..0, branch.problems.iter().cloned());
        CurrentState {
            branch,
            records,
            landed_at: None,
            notes,
        }
    }

    /// Keeps the texts of the pointers only for the modules `keep` names: a plan compares
    /// files by id, and needs the text of a pointer it changes only to save it for a rollback.
    /// The rest are blobs the branch holds already (a third of a 100,000-cluster branch's
    /// memory while a rollout is under way).
    pub fn keep_texts_of(&mut self, keep: impl Fn(&str) -> bool + Sync) {
        use rayon::prelude::*;
        self.branch
            .pointers
            .clusters
            .par_iter_mut()
            .for_each(|(_, pointers)| {
                let forget =
                    |(m, p): &(&String, &crate::render::Pointer)| !keep(m) && p.has_any_text();
                // Pointers shared with other renders are copied only when some change.
                if pointers.iter().any(|pair| forget(&pair)) {
                    let pointers = std::sync::Arc::make_mut(pointers);
                    for (_, pointer) in pointers.iter_mut().filter(|(m, _)| !keep(m)) {
                        pointer.forget_texts();
                    }
                }
            });
    }

    /// The files whose landing time the plan needs: the pointers of clusters in the waves of
    /// rollouts in progress, each with whether the branch holds it.
    pub fn history_paths(&self, path: &str) -> BTreeMap<String, bool> {
        let pointers = &self.branch.pointers;
        self.records
            .values()
            .flat_map(|r| {
                r.waves.iter().flat_map(move |w| {
                    w.clusters.iter().map(move |c| {
                        let held = pointers.clusters.get(c).and_then(|p| p.get(&r.module));
                        let path = layout::pair_path(pointers, path, c, &r.module);
                        (path, held.is_some())
                    })
                })
            })
            .collect()
    }
}

/// The rollout records among the files of a rendered branch, by module, and what was wrong
/// with the ones that could not be read.
pub fn read_records(files: &Files) -> (BTreeMap<String, RolloutRecord>, Vec<String>) {
    let mut records = BTreeMap::new();
    let mut notes = Vec::new();
    let under = files.range::<str, _>((
        std::ops::Bound::Included(layout::ROLLOUTS),
        std::ops::Bound::Unbounded,
    ));
    for (file, content) in under.take_while(|(file, _)| file.starts_with(layout::ROLLOUTS)) {
        let Some(module) = layout::record_module(file) else {
            continue;
        };
        // Records are never expected, so always read.
        let text = content.text().map_or("", |t| t);
        match RolloutRecord::parse(file, text) {
            Ok(record) => {
                records.insert(module.to_string(), record);
            }
            Err(e) => notes.push(format!(
                "{e}; the record is ignored and will be rewritten when {module} next changes"
            )),
        }
    }
    (records, notes)
}
