//! One comment per purpose on an issue or pull request, found again by a hidden marker.

use octocrab::models::issues::Comment;

use super::retry::Call;
use super::text::fit_body;
use super::{Action, CommentOutcome, GitHub};
use crate::Error;

impl GitHub {
    /// Makes the comment holding `marker` (an HTML comment such as `<!-- fleeet:preview -->`,
    /// hidden when GitHub shows it) on issue or pull request `issue_number` say `body`: updates
    /// the first such comment, or creates one. Writes nothing when it already says `body`.
    /// The marker is put first in the comment unless `body` starts with it.
    pub async fn upsert_comment(
        &self,
        issue_number: u64,
        marker: &str,
        body: &str,
    ) -> Result<CommentOutcome, Error> {
        check_marker(marker)?;
        let body = if body.starts_with(marker) {
            fit_body(body)
        } else {
            fit_body(&format!("{marker}\n{body}"))
        };
        let repo = self.repo();
        let comments = self
            .all_pages(
                &format!("list the comments of #{issue_number} of {repo}"),
                || async {
                    let issues = self.crab.issues(&self.owner, &self.name);
                    issues
                        .list_comments(issue_number)
                        .per_page(100u8)
                        .send()
                        .await
                },
            )
            .await?;
        let existing = comments
            .into_iter()
            .find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)));
        let (comment, action) = match existing {
            Some(comment) if comment.body.as_deref() == Some(body.as_str()) => {
                (comment, Action::Unchanged)
            }
            Some(comment) => {
                let route = format!(
                    "/repos/{}/{}/issues/comments/{}",
                    self.owner, self.name, comment.id
                );
                let what = format!("update comment {} on #{issue_number} of {repo}", comment.id);
                let update = serde_json::json!({ "body": body });
                let updated: Comment = self
                    .call(&what, Call::Write, || {
                        self.crab.patch(&route, Some(&update))
                    })
                    .await?;
                (updated, Action::Updated)
            }
            None => {
                let what = format!("comment on #{issue_number} of {repo}");
                let created = self
                    .call(&what, Call::Write, || async {
                        let issues = self.crab.issues(&self.owner, &self.name);
                        issues.create_comment(issue_number, &body).await
                    })
                    .await?;
                (created, Action::Created)
            }
        };
        Ok(CommentOutcome {
            id: comment.id.into_inner(),
            html_url: comment.html_url.to_string(),
            action,
        })
    }
}

/// A marker must be a one-line HTML comment with some text: anything else could match, or
/// show in, comments that are not fleeet's.
fn check_marker(marker: &str) -> Result<(), Error> {
    let inner = marker
        .strip_prefix("<!--")
        .and_then(|m| m.strip_suffix("-->"))
        .map(str::trim);
    match inner {
        Some(text) if !text.is_empty() && !text.contains(['\n', '\r']) && !text.contains("--") => {
            Ok(())
        }
        _ => Err(Error::usage(
            format!("invalid comment marker {marker:?}"),
            "use a one-line HTML comment such as <!-- fleeet:preview -->",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_one_line_html_comments_with_text() {
        assert!(check_marker("<!-- fleeet:preview -->").is_ok());
        for bad in [
            "",
            "fleeet",
            "<!---->",
            "<!--  -->",
            "<!-- a\nb -->",
            "<!-- a -- b -->",
        ] {
            assert!(check_marker(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
