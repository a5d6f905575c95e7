//! The rendered branch as the planner reads it: pointers, rollout records, landing times.

use std::collections::{BTreeMap, BTreeSet};

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
    pub landed_at: Option<BTreeMap<String, Timestamp>>,
    /// What was found on the branch but not understood.
    pub notes: Vec<String>,
}

impl CurrentState {
    /// Reads the rendered branch's files; clusters are under `path`. Pointer files known by
    /// their ids alone are `known`'s (see [`layout::parse`]).
    pub fn from_files(files: Files, path: &str, known: &Rendered) -> CurrentState {
        let branch = layout::parse(&files, path, known);
        // The branch holds what it needs of them: they are freed on a thread of their own.
        drop(crate::free::FreeLater::new(files));
        let mut notes = branch.problems.clone();
        let mut records = BTreeMap::new();
        for (module, content) in &branch.records {
            // Records are never expected, so always read.
            let text = content.text().map_or("", |t| t);
            match RolloutRecord::parse(&layout::record_path(module), text) {
                Ok(record) => {
                    records.insert(module.clone(), record);
                }
                Err(e) => notes.push(format!(
                    "{e}; the record is ignored and will be rewritten when {module} next changes"
                )),
            }
        }
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
                for (_, pointer) in pointers.iter_mut().filter(|(m, _)| !keep(m)) {
                    pointer.forget_texts();
                }
            });
    }

    /// The files whose landing time the plan needs: the pointers of clusters in the waves of
    /// rollouts in progress.
    pub fn history_paths(&self, path: &str) -> BTreeSet<String> {
        self.records
            .values()
            .flat_map(|r| {
                r.waves.iter().flat_map(move |w| {
                    w.clusters
                        .iter()
                        .map(move |c| layout::pair_path(&self.branch.pointers, path, c, &r.module))
                })
            })
            .collect()
    }
}
