//! The single fleeet pull request: found, opened, brought up to date, closed.

use octocrab::models::pulls::PullRequest as Pull;
use octocrab::params;

use super::failure::Failure;
use super::retry::Call;
use super::text::fit_body;
use super::{Action, GitHub, github_error};
use crate::Error;

/// The fleeet pull request as it should be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullRequestSpec {
    /// The branch holding the wave, in the same repository (for example `fleeet/next`).
    pub head: String,
    /// The branch it merges into: the rendered branch.
    pub base: String,
    pub title: String,
    /// Markdown; cut at a line end if longer than GitHub accepts.
    pub body: String,
    /// Labels it must have; others (added by people) are left alone.
    pub labels: Vec<String>,
    /// Users, or teams as `org/team`, asked to review it.
    pub reviewers: Vec<String>,
}

/// An open pull request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub html_url: String,
    /// The commit its head branch points at.
    pub head_sha: String,
    pub title: String,
    pub body: String,
}

/// What [`GitHub::upsert_pull_request`] found or made, and what it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequestOutcome {
    pub pull_request: PullRequest,
    pub action: Action,
}

impl From<&Pull> for PullRequest {
    fn from(pull: &Pull) -> Self {
        PullRequest {
            number: pull.number,
            html_url: pull
                .html_url
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            head_sha: pull.head.sha.clone(),
            title: pull.title.clone().unwrap_or_default(),
            body: pull.body.clone().unwrap_or_default(),
        }
    }
}

impl GitHub {
    /// The open pull request from `head` (a branch of this repository) into `base`; the oldest
    /// if people opened several.
    pub async fn find_pull_request(
        &self,
        head: &str,
        base: &str,
    ) -> Result<Option<PullRequest>, Error> {
        Ok(self.find_open(head, base).await?.as_ref().map(Into::into))
    }

    /// Makes the open pull request from `spec.head` into `spec.base` match `spec`: opens it if
    /// there is none, else updates its title and body if they differ; adds missing labels and
    /// asks missing reviewers. Never opens a second one, and writes nothing when all matches.
    ///
    /// A reviewer counts as asked while the request is pending, and once they reviewed the
    /// current head commit; a team, once anyone reviewed the current head (GitHub ends a team's
    /// request when one of its members reviews). The pull request's author is never asked.
    pub async fn upsert_pull_request(
        &self,
        spec: &PullRequestSpec,
    ) -> Result<PullRequestOutcome, Error> {
        let body = fit_body(&spec.body);
        let found = self.find_open(&spec.head, &spec.base).await?;
        let (mut pull, mut action) = match found {
            Some(pull) => (pull, Action::Unchanged),
            None => match self.create(spec, &body).await? {
                Some(created) => (created, Action::Created),
                // Another run opened it between our look and our create.
                None => (
                    self.find_created_by_another_run(spec).await?,
                    Action::Unchanged,
                ),
            },
        };
        if action == Action::Unchanged
            && let Some(updated) = self.update_text(&pull, &spec.title, &body).await?
        {
            pull = updated;
            action = Action::Updated;
        }
        let labelled = self.ensure_labels(&pull, &spec.labels).await?;
        let asked = self.ensure_reviewers(&pull, &spec.reviewers).await?;
        if action == Action::Unchanged && (labelled || asked) {
            action = Action::Updated;
        }
        Ok(PullRequestOutcome {
            pull_request: PullRequest::from(&pull),
            action,
        })
    }

    /// Comments `comment` on pull request `number` (why it is closed), then closes it.
    pub async fn close_pull_request(&self, number: u64, comment: &str) -> Result<(), Error> {
        let repo = self.repo();
        let body = fit_body(comment);
        self.call(
            &format!("comment on pull request #{number} of {repo}"),
            Call::Write,
            || async {
                let issues = self.crab.issues(&self.owner, &self.name);
                issues.create_comment(number, &body).await
            },
        )
        .await?;
        let close = serde_json::json!({ "state": "closed" });
        self.call(
            &format!("close pull request #{number} of {repo}"),
            Call::Write,
            || self.update_pull(number, &close),
        )
        .await?;
        Ok(())
    }

    async fn find_open(&self, head: &str, base: &str) -> Result<Option<Pull>, Error> {
        let repo = self.repo();
        let what = format!("list the open pull requests from {head} into {base} of {repo}");
        let head_filter = format!("{}:{head}", self.owner);
        let pulls = self
            .all_pages(&what, || async {
                let handler = self.crab.pulls(&self.owner, &self.name);
                handler
                    .list()
                    .state(params::State::Open)
                    .head(head_filter.as_str())
                    .base(base)
                    .per_page(100u8)
                    .send()
                    .await
            })
            .await?;
        let same_repo = |pull: &Pull| {
            let full_name = pull.head.repo.as_ref().and_then(|r| r.full_name.as_deref());
            full_name.is_none_or(|name| name.eq_ignore_ascii_case(&repo))
        };
        Ok(pulls
            .into_iter()
            .filter(|pull| pull.head.ref_field == head && pull.base.ref_field == base)
            .filter(same_repo)
            .min_by_key(|pull| pull.number))
    }

    /// Opens the pull request; `None` if GitHub says one is already open for its head.
    async fn create(&self, spec: &PullRequestSpec, body: &str) -> Result<Option<Pull>, Error> {
        let created = self
            .attempt(Call::Write, || async {
                let handler = self.crab.pulls(&self.owner, &self.name);
                handler
                    .create(&spec.title, &spec.head, &spec.base)
                    .body(body)
                    .send()
                    .await
            })
            .await;
        match created {
            Ok(pull) => Ok(Some(pull)),
            Err((Failure::Status(answer), _))
                if answer.status == 422 && answer.says("already exists") =>
            {
                Ok(None)
            }
            Err((failure, note)) => Err(self.error(
                &format!(
                    "open a pull request from {} into {} of {}",
                    spec.head,
                    spec.base,
                    self.repo()
                ),
                failure,
                note,
            )),
        }
    }

    async fn find_created_by_another_run(&self, spec: &PullRequestSpec) -> Result<Pull, Error> {
        self.find_open(&spec.head, &spec.base).await?.ok_or_else(|| {
            github_error(
                format!(
                    "GitHub says a pull request from {} into {} of {} is open, but does not list it",
                    spec.head,
                    spec.base,
                    self.repo()
                ),
                Some("run again: GitHub's lists can lag behind a moment".into()),
            )
        })
    }

    /// Sets the title and body that differ; the updated pull request, or `None` if none did.
    async fn update_text(
        &self,
        pull: &Pull,
        title: &str,
        body: &str,
    ) -> Result<Option<Pull>, Error> {
        let new_title = (pull.title.as_deref().unwrap_or_default() != title).then_some(title);
        let new_body = (pull.body.as_deref().unwrap_or_default() != body).then_some(body);
        if new_title.is_none() && new_body.is_none() {
            return Ok(None);
        }
        let mut changes = serde_json::Map::new();
        if let Some(title) = new_title {
            changes.insert("title".into(), title.into());
        }
        if let Some(body) = new_body {
            changes.insert("body".into(), body.into());
        }
        let what = format!("update pull request #{} of {}", pull.number, self.repo());
        let updated = self
            .call(&what, Call::Write, || {
                self.update_pull(pull.number, &changes)
            })
            .await?;
        Ok(Some(updated))
    }

    /// `PATCH /repos/{owner}/{repo}/pulls/{number}` with exactly `changes` (octocrab's builder
    /// would add fields GitHub does not document).
    async fn update_pull<T: serde::Serialize + ?Sized>(
        &self,
        number: u64,
        changes: &T,
    ) -> octocrab::Result<Pull> {
        let route = format!("/repos/{}/{}/pulls/{number}", self.owner, self.name);
        self.crab.patch(route, Some(changes)).await
    }

    /// Adds the labels `pull` lacks (names compare without case, as on GitHub); whether it did.
    async fn ensure_labels(&self, pull: &Pull, labels: &[String]) -> Result<bool, Error> {
        let present: Vec<&str> = pull
            .labels
            .iter()
            .flatten()
            .map(|l| l.name.as_str())
            .collect();
        let missing = missing(labels, |label| {
            present.iter().any(|p| p.eq_ignore_ascii_case(label))
        });
        if missing.is_empty() {
            return Ok(false);
        }
        let what = format!("label pull request #{} of {}", pull.number, self.repo());
        self.call(&what, Call::Write, || async {
            let issues = self.crab.issues(&self.owner, &self.name);
            issues.add_labels(pull.number, &missing).await
        })
        .await?;
        Ok(true)
    }

    /// Asks the reviewers not yet asked (see [`GitHub::upsert_pull_request`]); whether it did.
    async fn ensure_reviewers(&self, pull: &Pull, reviewers: &[String]) -> Result<bool, Error> {
        let author = pull.user.as_ref().map(|user| user.login.as_str());
        let pending_users: Vec<&str> = pull
            .requested_reviewers
            .iter()
            .flatten()
            .map(|user| user.login.as_str())
            .collect();
        let pending_teams: Vec<&str> = pull
            .requested_teams
            .iter()
            .flatten()
            .map(|team| team.slug.as_str())
            .collect();
        let (teams, users): (Vec<String>, Vec<String>) =
            reviewers.iter().cloned().partition(|r| r.contains('/'));
        let teams: Vec<String> = teams
            .iter()
            .filter_map(|team| team.rsplit_once('/').map(|(_, slug)| slug.to_owned()))
            .collect();
        let mut teams = missing(&teams, |slug| {
            pending_teams.iter().any(|p| p.eq_ignore_ascii_case(slug))
        });
        let mut users = missing(&users, |login| {
            author.is_some_and(|a| a.eq_ignore_ascii_case(login))
                || pending_users.iter().any(|p| p.eq_ignore_ascii_case(login))
        });
        if users.is_empty() && teams.is_empty() {
            return Ok(false);
        }
        let repo = self.repo();
        let reviewed_head: Vec<String> = self
            .all_pages(
                &format!(
                    "list the reviews of pull request #{} of {repo}",
                    pull.number
                ),
                || async {
                    let handler = self.crab.pulls(&self.owner, &self.name);
                    handler
                        .list_reviews(pull.number)
                        .per_page(100u8)
                        .send()
                        .await
                },
            )
            .await?
            .into_iter()
            .filter(|review| review.commit_id.as_deref() == Some(pull.head.sha.as_str()))
            .filter_map(|review| review.user.map(|user| user.login))
            .collect();
        users.retain(|login| !reviewed_head.iter().any(|r| r.eq_ignore_ascii_case(login)));
        if !reviewed_head.is_empty() {
            teams.clear();
        }
        if users.is_empty() && teams.is_empty() {
            return Ok(false);
        }
        let what = format!(
            "request reviewers for pull request #{} of {repo}",
            pull.number
        );
        self.call(&what, Call::Write, || async {
            let handler = self.crab.pulls(&self.owner, &self.name);
            handler
                .request_reviews(pull.number, users.clone(), teams.clone())
                .await
        })
        .await?;
        Ok(true)
    }
}

/// The non-blank `wanted` names that are not `present`, each once (ignoring case).
fn missing(wanted: &[String], present: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in wanted.iter().map(|n| n.trim()) {
        if !name.is_empty() && !present(name) && !out.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            out.push(name.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_names_are_blank_free_deduplicated_and_case_insensitive() {
        let wanted = ["fleeet", "Wave", "wave", " ", "rollout"].map(String::from);
        let present = |name: &str| name.eq_ignore_ascii_case("FLEEET");
        assert_eq!(missing(&wanted, present), ["Wave", "rollout"]);
    }
}
