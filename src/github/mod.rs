//! GitHub: the single fleeet pull request of each rollout wave, and preview comments.
//!
//! Every operation reads first and writes only what differs, so running it twice with nothing
//! new makes no write calls. Requests GitHub answers with 5xx, 429 or a rate-limited 403 are
//! retried (see [`RetryPolicy`]). The token is sent to the API URL only; it never appears in
//! errors or in `Debug` output.

mod comments;
mod failure;
mod merge;
mod pulls;
mod retry;
mod text;

use std::fmt;
use std::time::Duration;

use octocrab::Octocrab;

use crate::Error;

pub use merge::{MergeMethod, MergeOutcome, MergePolling};
pub use pulls::{PullRequest, PullRequestOutcome, PullRequestSpec};
pub use retry::RetryPolicy;

/// GitHub's public API, for when `GITHUB_API_URL` is not set.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// How long to wait for a connection, and for each read of an answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// What an upsert did on GitHub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Created,
    Updated,
    /// Everything already matched: no write was made.
    Unchanged,
}

/// A comment put on an issue or pull request by [`GitHub::upsert_comment`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentOutcome {
    pub id: u64,
    pub html_url: String,
    pub action: Action,
}

/// Where a GitHub repository is and the token to reach it with, before a client is made.
pub struct Target {
    pub api_url: String,
    /// `owner/name`.
    pub repo: String,
    pub token: String,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("api_url", &self.api_url)
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// A client for the target. Must be called inside a tokio runtime.
    pub fn client(&self) -> Result<GitHub, Error> {
        GitHub::new(&self.api_url, &self.token, &self.repo)
    }
}

/// A current-thread tokio runtime for the GitHub calls of one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(std::path::Path::new("<tokio runtime>"), e))
}

/// A client for one repository's pull requests and comments.
pub struct GitHub {
    crab: Octocrab,
    api_url: String,
    owner: String,
    name: String,
    retry: RetryPolicy,
    merge_polling: MergePolling,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("api_url", &self.api_url)
            .field("repo", &self.repo())
            .finish_non_exhaustive()
    }
}

impl GitHub {
    /// A client for `repo` (`owner/name`) through the REST API at `api_url` (for example
    /// [`DEFAULT_API_URL`], or `https://HOST/api/v3` for GitHub Enterprise Server).
    /// Must be called inside a tokio runtime.
    pub fn new(api_url: &str, token: &str, repo: &str) -> Result<GitHub, Error> {
        let api_url = check_api_url(api_url)?;
        let (owner, name) = split_repo(repo)?;
        check_token(token)?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(github_error(
                "the GitHub client needs a tokio runtime".into(),
                None,
            ));
        }
        let crab = Octocrab::builder()
            .base_uri(api_url.as_str())
            .map_err(|_| invalid_api_url(&api_url, "it is not a valid URL"))?
            .personal_token(token.to_owned())
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(READ_TIMEOUT))
            .build()
            .map_err(|e| {
                github_error(
                    format!("could not set up the GitHub client: {}", failure::chain(&e)),
                    Some("the system's TLS root certificates could not be loaded".into()),
                )
            })?;
        Ok(GitHub {
            crab,
            api_url,
            owner: owner.to_owned(),
            name: name.to_owned(),
            retry: RetryPolicy::default(),
            merge_polling: MergePolling::default(),
        })
    }

    /// Uses `policy` for failed requests instead of [`RetryPolicy::default`].
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Uses `polling` while GitHub computes whether a pull request can be merged.
    pub fn with_merge_polling(mut self, polling: MergePolling) -> Self {
        self.merge_polling = polling;
        self
    }

    /// The repository, as `owner/name`.
    pub fn repo(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// An [`Error::GitHub`].
fn github_error(message: String, hint: Option<String>) -> Error {
    Error::GitHub { message, hint }
}

fn invalid_api_url(api_url: &str, reason: &str) -> Error {
    Error::usage(
        format!("invalid GitHub API URL {api_url:?}: {reason}"),
        format!("use {DEFAULT_API_URL}, or https://HOST/api/v3 for GitHub Enterprise Server"),
    )
}

/// The API URL without a trailing slash; it must be http(s) and carry no credentials.
fn check_api_url(api_url: &str) -> Result<String, Error> {
    let trimmed = api_url.trim().trim_end_matches('/');
    let Some(rest) = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
    else {
        return Err(invalid_api_url(
            trimmed,
            "it must start with https:// (or http://)",
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        // Never echo it: the part before '@' may be a secret.
        return Err(Error::usage(
            "the GitHub API URL must not contain credentials",
            "pass the token separately (GITHUB_TOKEN)",
        ));
    }
    if authority.is_empty() {
        return Err(invalid_api_url(trimmed, "it has no host"));
    }
    Ok(trimmed.to_owned())
}

/// `owner/name`, each made of letters, digits, `-`, `_` and `.`.
fn split_repo(repo: &str) -> Result<(&str, &str), Error> {
    let valid = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match repo.split_once('/') {
        Some((owner, name)) if valid(owner) && valid(name) => Ok((owner, name)),
        _ => Err(Error::usage(
            format!("invalid GitHub repository {repo:?}: expected OWNER/NAME"),
            "in GitHub Actions, GITHUB_REPOSITORY holds it (for example acme/fleet)",
        )),
    }
}

/// A token must be non-empty visible ASCII: it goes into an HTTP header.
fn check_token(token: &str) -> Result<(), Error> {
    if token.is_empty() {
        return Err(Error::usage(
            "no GitHub token was given",
            "set GITHUB_TOKEN (in a workflow: `github-token: ${{ secrets.GITHUB_TOKEN }}`)",
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        // Never echo it.
        return Err(Error::usage(
            "the GitHub token contains spaces, line breaks or non-ASCII characters",
            "check how GITHUB_TOKEN is set: a trailing newline from a file is a common cause",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_keep_their_path_prefix_and_lose_trailing_slashes() {
        assert_eq!(
            check_api_url("https://api.github.com/").unwrap(),
            "https://api.github.com"
        );
        assert_eq!(
            check_api_url("https://ghe.example/api/v3/").unwrap(),
            "https://ghe.example/api/v3"
        );
        assert!(check_api_url("ftp://ghe.example").is_err());
        assert!(check_api_url("ghe.example/api/v3").is_err());
        assert!(check_api_url("https:///api").is_err());
    }

    #[test]
    fn api_urls_with_credentials_are_refused_without_echoing_them() {
        let error = check_api_url("https://x:hunter2@ghe.example/api/v3").unwrap_err();
        assert!(!format!("{error} {error:?}").contains("hunter2"));
    }

    #[test]
    fn repositories_are_owner_slash_name() {
        assert_eq!(split_repo("acme/fleet").unwrap(), ("acme", "fleet"));
        assert_eq!(split_repo("a-b_c/d.e").unwrap(), ("a-b_c", "d.e"));
        for bad in [
            "acme",
            "acme/",
            "/fleet",
            "acme/fleet/x",
            "acme/..",
            "ac me/fleet",
        ] {
            assert!(split_repo(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn bad_tokens_are_refused_without_echoing_them() {
        assert!(check_token("").is_err());
        let error = check_token("ghp_secret\n").unwrap_err();
        assert!(!format!("{error} {error:?}").contains("ghp_secret"));
        assert!(check_token("ghp_abcDEF123").is_ok());
    }

    #[test]
    fn new_outside_a_runtime_is_an_error_not_a_panic() {
        let error = GitHub::new(DEFAULT_API_URL, "t", "acme/fleet").unwrap_err();
        assert!(error.to_string().contains("tokio runtime"));
    }

    #[tokio::test]
    async fn debug_shows_the_repository_but_not_the_token() {
        let github = GitHub::new("https://ghe.example/api/v3", "ghp_hidden", "acme/fleet").unwrap();
        let debug = format!("{github:?}");
        assert!(debug.contains("acme/fleet") && debug.contains("ghe.example/api/v3"));
        assert!(!debug.contains("ghp_hidden"));
    }
}
