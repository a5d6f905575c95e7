//! A failed GitHub request: classified for retries, then explained as an [`Error::GitHub`].

use crate::Error;

/// What went wrong with one request.
#[derive(Debug)]
pub(super) enum Failure {
    /// GitHub answered with an error status.
    Status(Answer),
    /// No answer: the connection failed, was cut, or timed out.
    Transport(String),
    /// An answer fleeet could not use (for example JSON of an unexpected shape).
    Other(String),
}

/// An error answer from GitHub.
#[derive(Debug, Default)]
pub(super) struct Answer {
    pub status: u16,
    /// GitHub's `message`.
    pub message: String,
    /// The `message` (or `resource`, `field`, `code`) of each entry of GitHub's `errors`.
    pub details: Vec<String>,
    pub documentation_url: Option<String>,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
    /// `x-ratelimit-remaining`.
    pub remaining: Option<u64>,
    /// `x-ratelimit-reset`, in seconds since the Unix epoch.
    pub reset: Option<i64>,
}

impl Answer {
    /// A 429, or a 403 that is a (primary or secondary) rate limit rather than a refusal.
    pub fn is_rate_limit(&self) -> bool {
        self.status == 429
            || self.status == 403
                && (self.retry_after.is_some()
                    || self.remaining == Some(0)
                    || self.message.to_ascii_lowercase().contains("rate limit"))
    }

    /// Whether one of GitHub's `errors` (or its message) says `text`.
    pub fn says(&self, text: &str) -> bool {
        self.message.contains(text) || self.details.iter().any(|d| d.contains(text))
    }
}

impl From<octocrab::Error> for Failure {
    fn from(error: octocrab::Error) -> Self {
        match error {
            octocrab::Error::GitHub { source, .. } => Failure::Status(answer(&source)),
            octocrab::Error::Service { .. } | octocrab::Error::Hyper { .. } => {
                Failure::Transport(chain(&error))
            }
            other => Failure::Other(chain(&other)),
        }
    }
}

fn answer(error: &octocrab::GitHubError) -> Answer {
    let header = |name: &str| {
        error
            .headers
            .as_ref()?
            .get(name)?
            .to_str()
            .ok()
            .map(str::trim)
    };
    Answer {
        status: error.status_code.as_u16(),
        message: error.message.clone(),
        details: error.errors.iter().flatten().filter_map(detail).collect(),
        documentation_url: error.documentation_url.clone(),
        retry_after: header("retry-after").and_then(|v| v.parse().ok()),
        remaining: header("x-ratelimit-remaining").and_then(|v| v.parse().ok()),
        reset: header("x-ratelimit-reset").and_then(|v| v.parse().ok()),
    }
}

/// One entry of GitHub's `errors`: a string, or an object with a `message` or a `code`.
fn detail(value: &serde_json::Value) -> Option<String> {
    if let Some(text) = value.as_str() {
        return Some(text.to_owned());
    }
    if let Some(message) = value.get("message").and_then(|m| m.as_str()) {
        return Some(message.to_owned());
    }
    let part = |key: &str| value.get(key).and_then(|v| v.as_str());
    let code = part("code")?;
    let subject: Vec<&str> = [part("resource"), part("field")]
        .into_iter()
        .flatten()
        .collect();
    Some(format!("{} is {code}", subject.join(".")).trim().to_owned())
}

/// An error and its sources, each said once.
pub(super) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        source = cause.source();
    }
    text
}

/// Where the request was going, for messages and hints.
pub(super) struct Target<'a> {
    pub api_url: &'a str,
    pub repo: &'a str,
}

impl Failure {
    /// The error to report after trying to `what` (a verb phrase: "create the pull request
    /// ...") failed; `note` says why fleeet stopped retrying, if it retried.
    pub fn into_error(self, what: &str, note: Option<String>, target: Target<'_>) -> Error {
        let note = note.map(|n| format!(" ({n})")).unwrap_or_default();
        match self {
            Failure::Status(answer) => {
                let reason = http_reason(answer.status);
                let mut message = format!(
                    "GitHub could not {what}: {} {reason}: {}",
                    answer.status, answer.message
                );
                if !answer.details.is_empty() {
                    message = format!("{message}: {}", answer.details.join("; "));
                }
                if let Some(url) = &answer.documentation_url {
                    message = format!("{message} (see {url})");
                }
                Error::GitHub {
                    message: format!("{message}{note}"),
                    hint: status_hint(&answer, &target),
                }
            }
            Failure::Transport(cause) => Error::GitHub {
                message: format!(
                    "could not reach GitHub at {} to {what}: {cause}{note}",
                    target.api_url
                ),
                hint: Some(
                    "check the API URL (GitHub Enterprise Server: https://HOST/api/v3) and the network"
                        .into(),
                ),
            },
            Failure::Other(cause) => Error::GitHub {
                message: format!("could not {what}: unexpected answer from GitHub: {cause}{note}"),
                hint: None,
            },
        }
    }
}

fn status_hint(answer: &Answer, target: &Target<'_>) -> Option<String> {
    let hint = match answer.status {
        401 => "the GitHub token was rejected: check that GITHUB_TOKEN is set and has not expired"
            .to_owned(),
        403 | 429 if answer.is_rate_limit() => {
            "GitHub's rate limit is exhausted; run again once it resets".to_owned()
        }
        403 => "the token lacks a permission: the workflow needs `permissions: contents: write, \
                pull-requests: write` (runs for pull requests from forks only get a read-only token)"
            .to_owned(),
        404 => format!(
            "check that the repository {} exists, that the token can access it, and the API URL {}",
            target.repo, target.api_url
        ),
        500..=599 => "GitHub is failing; run again later".to_owned(),
        _ => return None,
    };
    Some(hint)
}

fn http_reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_told_apart_from_refusals() {
        let answer = |status, message: &str| Answer {
            status,
            message: message.into(),
            ..Answer::default()
        };
        assert!(answer(429, "").is_rate_limit());
        assert!(!answer(403, "Resource not accessible by integration").is_rate_limit());
        assert!(answer(403, "You have exceeded a secondary rate limit").is_rate_limit());
        assert!(
            Answer {
                remaining: Some(0),
                ..answer(403, "API rate limit exceeded")
            }
            .is_rate_limit()
        );
        assert!(
            Answer {
                retry_after: Some(30),
                ..answer(403, "")
            }
            .is_rate_limit()
        );
    }

    #[test]
    fn details_come_from_messages_or_codes() {
        let errors = serde_json::json!([
            {"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for acme:fleeet/next."},
            {"resource": "PullRequest", "field": "head", "code": "invalid"},
            "plain"
        ]);
        let details: Vec<String> = errors
            .as_array()
            .unwrap()
            .iter()
            .filter_map(detail)
            .collect();
        assert_eq!(
            details,
            [
                "A pull request already exists for acme:fleeet/next.",
                "PullRequest.head is invalid",
                "plain"
            ]
        );
    }

    #[test]
    fn status_errors_say_what_status_message_details_and_documentation() {
        let failure = Failure::Status(Answer {
            status: 422,
            message: "Validation Failed".into(),
            details: vec!["No commits between fleeet/rendered and fleeet/next".into()],
            documentation_url: Some("https://docs.github.com/rest/pulls".into()),
            ..Answer::default()
        });
        let target = Target {
            api_url: "https://api.github.com",
            repo: "acme/fleet",
        };
        let error = failure.into_error("create the pull request", None, target);
        assert_eq!(
            error.to_string(),
            "GitHub could not create the pull request: 422 Unprocessable Entity: Validation \
             Failed: No commits between fleeet/rendered and fleeet/next (see \
             https://docs.github.com/rest/pulls)"
        );
        assert_eq!(error.exit_code(), crate::error::EXIT_FAILURE);
    }
}
