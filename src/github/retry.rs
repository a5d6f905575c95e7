//! Sending requests: retries with backoff that honour GitHub's `Retry-After` and rate-limit
//! reset, and pagination.

use std::future::Future;
use std::time::Duration;

use octocrab::Page;
use serde::de::DeserializeOwned;

use super::GitHub;
use super::failure::{Failure, Target};
use crate::Error;

/// How requests that failed for a passing reason are retried: answers 5xx, 429, and 403 when
/// it is a rate limit. The wait is what GitHub asks (`Retry-After`, or until
/// `x-ratelimit-reset` when `x-ratelimit-remaining` is 0), else `base_delay` doubled at each
/// retry. A request that got no answer at all is retried only if it reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first wait when GitHub does not say how long.
    pub base_delay: Duration,
    /// The longest wait before one retry. When GitHub asks for longer, fleeet stops at once
    /// with an error rather than sleep through a CI job.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// What GitHub recommends waiting after a secondary rate limit that does not say how long.
const SECONDARY_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Whether a request changes something: one that got no answer may have been applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Call {
    Read,
    Write,
}

/// After a failure: wait and try again, or stop (saying why, when it is not obvious).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    Retry(Duration),
    Stop(Option<String>),
}

impl RetryPolicy {
    /// What to do after `failure` of a `call` that has been retried `retries` times, at `now`
    /// (seconds since the Unix epoch).
    pub(super) fn next(&self, failure: &Failure, call: Call, retries: u32, now: i64) -> Next {
        let backoff = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retries))
            .min(self.max_wait);
        let wait = match failure {
            Failure::Status(answer) if answer.is_rate_limit() => {
                let asked = answer
                    .retry_after
                    .or(match (answer.remaining, answer.reset) {
                        (Some(0), Some(reset)) => Some(u64::try_from(reset - now).unwrap_or(0) + 1),
                        _ => None,
                    });
                match asked.map(Duration::from_secs) {
                    Some(asked) if asked > self.max_wait => {
                        return Next::Stop(Some(format!(
                            "GitHub asks to wait {} s, longer than the {} s fleeet waits",
                            asked.as_secs(),
                            self.max_wait.as_secs()
                        )));
                    }
                    Some(asked) => asked,
                    None if answer.status == 403 => {
                        backoff.max(SECONDARY_RATE_LIMIT_WAIT).min(self.max_wait)
                    }
                    None => backoff,
                }
            }
            Failure::Status(answer) if answer.status >= 500 => backoff,
            Failure::Transport(_) if call == Call::Read => backoff,
            _ => return Next::Stop(None),
        };
        if retries >= self.max_retries {
            let plural = if retries == 1 { "retry" } else { "retries" };
            return Next::Stop(Some(format!("gave up after {retries} {plural}")));
        }
        Next::Retry(wait)
    }
}

/// At most this many pages (of 100) are read from one list.
const MAX_PAGES: usize = 100;

impl GitHub {
    /// Runs `op` until it succeeds or the retry policy stops; the failure, and why retrying
    /// stopped.
    pub(super) async fn attempt<T, F, Fut>(
        &self,
        call: Call,
        mut op: F,
    ) -> Result<T, (Failure, Option<String>)>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = octocrab::Result<T>>,
    {
        let mut retries = 0;
        loop {
            let failure = match op().await {
                Ok(value) => return Ok(value),
                Err(error) => Failure::from(error),
            };
            let now = jiff::Timestamp::now().as_second();
            match self.retry.next(&failure, call, retries, now) {
                Next::Retry(wait) => {
                    tokio::time::sleep(wait).await;
                    retries += 1;
                }
                Next::Stop(note) => return Err((failure, note)),
            }
        }
    }

    /// [`attempt`](Self::attempt), with a failure explained as trying to `what`.
    pub(super) async fn call<T, F, Fut>(&self, what: &str, call: Call, op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = octocrab::Result<T>>,
    {
        self.attempt(call, op)
            .await
            .map_err(|(failure, note)| self.error(what, failure, note))
    }

    /// The error for a failure to `what`.
    pub(super) fn error(&self, what: &str, failure: Failure, note: Option<String>) -> Error {
        let repo = self.repo();
        let target = Target {
            api_url: &self.api_url,
            repo: &repo,
        };
        failure.into_error(what, note, target)
    }

    /// Every item of a paginated list whose first page `first` reads, following `next` links.
    pub(super) async fn all_pages<T, F, Fut>(&self, what: &str, first: F) -> Result<Vec<T>, Error>
    where
        T: DeserializeOwned,
        F: FnMut() -> Fut,
        Fut: Future<Output = octocrab::Result<Page<T>>>,
    {
        let mut page = self.call(what, Call::Read, first).await?;
        let mut items = page.take_items();
        for _ in 1..MAX_PAGES {
            let Some(next) = page.next.take().map(|uri| uri.to_string()) else {
                return Ok(items);
            };
            page = self
                .call(what, Call::Read, || {
                    self.crab.get::<Page<T>, _, ()>(next.as_str(), None)
                })
                .await?;
            items.append(&mut page.take_items());
        }
        match page.next {
            None => Ok(items),
            Some(_) => Err(super::github_error(
                format!("could not {what}: more than {MAX_PAGES} pages"),
                None,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::failure::Answer;
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
        }
    }

    fn status(status: u16) -> Failure {
        Failure::Status(Answer {
            status,
            message: "m".into(),
            ..Answer::default()
        })
    }

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn server_errors_back_off_exponentially_up_to_the_limit() {
        let p = policy();
        let waits: Vec<Next> = (0..4)
            .map(|n| p.next(&status(502), Call::Write, n, NOW))
            .collect();
        assert_eq!(
            waits,
            [
                Next::Retry(Duration::from_secs(1)),
                Next::Retry(Duration::from_secs(2)),
                Next::Retry(Duration::from_secs(4)),
                Next::Stop(Some("gave up after 3 retries".into())),
            ]
        );
    }

    #[test]
    fn backoff_is_capped_by_the_maximum_wait() {
        let p = RetryPolicy {
            max_retries: 10,
            ..policy()
        };
        assert_eq!(
            p.next(&status(500), Call::Read, 9, NOW),
            Next::Retry(Duration::from_secs(60))
        );
    }

    #[test]
    fn retry_after_is_honoured() {
        let failure = Failure::Status(Answer {
            status: 429,
            retry_after: Some(7),
            ..Answer::default()
        });
        assert_eq!(
            policy().next(&failure, Call::Write, 0, NOW),
            Next::Retry(Duration::from_secs(7))
        );
    }

    #[test]
    fn an_exhausted_rate_limit_waits_until_it_resets() {
        let failure = Failure::Status(Answer {
            status: 403,
            message: "API rate limit exceeded".into(),
            remaining: Some(0),
            reset: Some(NOW + 20),
            ..Answer::default()
        });
        assert_eq!(
            policy().next(&failure, Call::Read, 0, NOW),
            Next::Retry(Duration::from_secs(21))
        );
    }

    #[test]
    fn a_wait_longer_than_the_maximum_stops_at_once() {
        let failure = Failure::Status(Answer {
            status: 403,
            remaining: Some(0),
            reset: Some(NOW + 3600),
            ..Answer::default()
        });
        let Next::Stop(Some(note)) = policy().next(&failure, Call::Read, 0, NOW) else {
            panic!("retried");
        };
        assert!(note.contains("3601 s"), "{note}");
    }

    #[test]
    fn a_secondary_rate_limit_without_headers_waits_a_minute() {
        let failure = Failure::Status(Answer {
            status: 403,
            message: "You have exceeded a secondary rate limit".into(),
            ..Answer::default()
        });
        assert_eq!(
            policy().next(&failure, Call::Write, 0, NOW),
            Next::Retry(Duration::from_secs(60))
        );
    }

    #[test]
    fn refusals_and_validation_errors_are_not_retried() {
        for code in [400, 401, 403, 404, 409, 422] {
            assert_eq!(
                policy().next(&status(code), Call::Read, 0, NOW),
                Next::Stop(None)
            );
        }
        let other = Failure::Other("bad JSON".into());
        assert_eq!(policy().next(&other, Call::Read, 0, NOW), Next::Stop(None));
    }

    #[test]
    fn unanswered_requests_are_retried_only_when_they_read() {
        let failure = Failure::Transport("connection reset".into());
        assert_eq!(
            policy().next(&failure, Call::Read, 0, NOW),
            Next::Retry(Duration::from_secs(1))
        );
        assert_eq!(
            policy().next(&failure, Call::Write, 0, NOW),
            Next::Stop(None)
        );
    }
}
