//! The rendered branch at a commit, as the rollout planner reads it.

use git2::Oid;

use super::Repo;
use crate::Error;
use crate::layout::Files;
use crate::render::Rendered;
use crate::rollout::CurrentState;
use crate::timing::stage;

impl Repo {
    /// The top-level folders fleeet owns on a rendered branch whose clusters are under `path`.
    pub fn managed_folders(path: &str) -> [&str; 2] {
        [path.split('/').next().unwrap_or(path), ".fleeet"]
    }

    /// The state of the rendered branch at `tip` (nothing rendered yet when `None`), with the
    /// time each pointer of a rollout in progress landed, from first-parent history. Files
    /// holding what `expected` holds at their path (the files of the pointers `known`, say) are
    /// not read; see [`Repo::read_files_expecting`] and [`CurrentState::from_files`].
    pub fn current_state(
        &self,
        tip: Option<Oid>,
        path: &str,
        expected: &Files,
        known: &Rendered,
    ) -> Result<CurrentState, Error> {
        let Some(tip) = tip else {
            return Ok(CurrentState {
                landed_at: Some(Default::default()),
                ..CurrentState::default()
            });
        };
        let files = stage("read the current tree", || {
            self.read_files_expecting(tip, &Self::managed_folders(path), expected)
        })?;
        let mut state = stage("parse the current tree", || {
            CurrentState::from_files(files, path, known)
        });
        let paths = state.history_paths(path);
        let landed_at = stage("read history", || self.last_changed(tip, &paths))?;
        state.landed_at = Some(landed_at);
        Ok(state)
    }
}
