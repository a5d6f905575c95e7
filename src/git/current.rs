//! The rendered branch at a commit, as the rollout planner reads it.

use git2::Oid;

use super::Repo;
use crate::Error;
use crate::rollout::CurrentState;

impl Repo {
    /// The top-level folders fleeet owns on a rendered branch whose clusters are under `path`.
    pub fn managed_folders(path: &str) -> [&str; 2] {
        [path.split('/').next().unwrap_or(path), ".fleeet"]
    }

    /// The state of the rendered branch at `tip` (nothing rendered yet when `None`), with the
    /// time each pointer of a rollout in progress landed, from first-parent history.
    pub fn current_state(&self, tip: Option<Oid>, path: &str) -> Result<CurrentState, Error> {
        let Some(tip) = tip else {
            return Ok(CurrentState {
                landed_at: Some(Default::default()),
                ..CurrentState::default()
            });
        };
        let files = self.read_files(tip, &Self::managed_folders(path))?;
        let mut state = CurrentState::from_files(&files, path);
        state.landed_at = Some(self.last_changed(tip, &state.history_paths(path))?);
        Ok(state)
    }
}
