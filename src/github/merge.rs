//! Merging the fleeet pull request once GitHub says it can be, and only at the expected head.

use std::time::Duration;

use octocrab::models::IssueState;
use octocrab::models::pulls::{MergeableState, PullRequest as Pull};
use octocrab::params;

use super::failure::Failure;
use super::retry::Call;
use super::{GitHub, github_error};
use crate::Error;

/// How a pull request is merged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MergeMethod {
    /// A merge commit (the default: the rendered branch keeps each wave's commit).
    #[default]
    Merge,
    Squash,
    Rebase,
}

/// What [`GitHub::merge_when_mergeable`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeOutcome {
    /// Merged; `sha` is the commit now at the tip of the base branch.
    Merged { sha: String },
    /// Not merged, for `reason` (conflicts, branch protection, ...); a later run may try again.
    NotMergeable { reason: String },
    /// Not merged: the head branch no longer points at the commit that was checked.
    HeadMoved { expected: String, actual: String },
}

/// How long to wait for GitHub to compute whether a pull request can be merged (it does so
/// lazily, after a change): `attempts` reads, `interval` apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergePolling {
    pub attempts: u32,
    pub interval: Duration,
}

impl Default for MergePolling {
    fn default() -> Self {
        MergePolling {
            attempts: 10,
            interval: Duration::from_secs(2),
        }
    }
}

impl GitHub {
    /// Merges pull request `number` if its head is still `expected_head_sha` and GitHub says it
    /// can be merged, waiting (see [`MergePolling`]) while GitHub has not decided yet. The merge
    /// request carries the expected head, so GitHub refuses it if the branch moved meanwhile.
    pub async fn merge_when_mergeable(
        &self,
        number: u64,
        expected_head_sha: &str,
        method: MergeMethod,
    ) -> Result<MergeOutcome, Error> {
        let mut polls = 1;
        let pull = loop {
            let pull = self.get_pull(number).await?;
            if pull.head.sha != expected_head_sha {
                return Ok(head_moved(expected_head_sha, &pull));
            }
            if let Some(reason) = closed(&pull) {
                return Ok(not_mergeable(reason));
            }
            if pull.mergeable.is_some() || polls >= self.merge_polling.attempts {
                break pull;
            }
            tokio::time::sleep(self.merge_polling.interval).await;
            polls += 1;
        };
        let state = pull.mergeable_state.as_ref();
        match pull.mergeable {
            None => Ok(not_mergeable(UNDECIDED)),
            Some(false) => Ok(not_mergeable(
                state
                    .and_then(blocking_reason)
                    .unwrap_or("GitHub says it cannot be merged"),
            )),
            Some(true) => match state.and_then(blocking_reason) {
                Some(reason) => Ok(not_mergeable(reason)),
                None => self.merge(number, expected_head_sha, method).await,
            },
        }
    }

    async fn get_pull(&self, number: u64) -> Result<Pull, Error> {
        let what = format!("read pull request #{number} of {}", self.repo());
        self.call(&what, Call::Read, || async {
            self.crab.pulls(&self.owner, &self.name).get(number).await
        })
        .await
    }

    async fn merge(
        &self,
        number: u64,
        expected_head_sha: &str,
        method: MergeMethod,
    ) -> Result<MergeOutcome, Error> {
        let what = format!("merge pull request #{number} of {}", self.repo());
        let method = match method {
            MergeMethod::Merge => params::pulls::MergeMethod::Merge,
            MergeMethod::Squash => params::pulls::MergeMethod::Squash,
            MergeMethod::Rebase => params::pulls::MergeMethod::Rebase,
        };
        let merged = self
            .attempt(Call::Write, || async {
                let handler = self.crab.pulls(&self.owner, &self.name);
                handler
                    .merge(number)
                    .sha(expected_head_sha)
                    .method(method)
                    .send()
                    .await
            })
            .await;
        match merged {
            Ok(merge) if merge.merged => match merge.sha {
                Some(sha) => Ok(MergeOutcome::Merged { sha }),
                None => Err(github_error(
                    format!("GitHub merged pull request #{number} but did not say the commit"),
                    None,
                )),
            },
            Ok(merge) => Ok(not_mergeable(
                merge
                    .message
                    .as_deref()
                    .unwrap_or("GitHub did not merge it"),
            )),
            // 405: not mergeable; 409: the head moved. A retried merge may have been applied
            // by its first attempt: the pull request says what happened.
            Err((Failure::Status(answer), _)) if matches!(answer.status, 405 | 409) => {
                let pull = self.get_pull(number).await?;
                Ok(match (&pull.merge_commit_sha, pull.merged_at) {
                    (Some(sha), Some(_)) if pull.head.sha == expected_head_sha => {
                        MergeOutcome::Merged { sha: sha.clone() }
                    }
                    _ if pull.head.sha != expected_head_sha => head_moved(expected_head_sha, &pull),
                    _ => not_mergeable(&answer.message),
                })
            }
            Err((failure, note)) => Err(self.error(&what, failure, note)),
        }
    }
}

const UNDECIDED: &str =
    "GitHub has not finished checking whether it can be merged; a later run tries again";

fn not_mergeable(reason: &str) -> MergeOutcome {
    MergeOutcome::NotMergeable {
        reason: reason.to_owned(),
    }
}

fn head_moved(expected: &str, pull: &Pull) -> MergeOutcome {
    MergeOutcome::HeadMoved {
        expected: expected.to_owned(),
        actual: pull.head.sha.clone(),
    }
}

/// Why a pull request that is not open cannot be merged.
fn closed(pull: &Pull) -> Option<&'static str> {
    if pull.merged_at.is_some() || pull.merged == Some(true) {
        Some("it is already merged")
    } else if pull.state == Some(IssueState::Closed) {
        Some("it is closed")
    } else {
        None
    }
}

/// Why GitHub would refuse to merge, from the pull request's `mergeable_state`.
fn blocking_reason(state: &MergeableState) -> Option<&'static str> {
    Some(match state {
        MergeableState::Dirty => "it conflicts with the base branch",
        MergeableState::Blocked => {
            "branch protection blocks it (required reviews or status checks are missing)"
        }
        MergeableState::Behind => "its branch is behind the base branch",
        MergeableState::Draft => "it is a draft",
        MergeableState::Unknown => UNDECIDED,
        _ => return None,
    })
}
