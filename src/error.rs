//! The error type of fleeet, and the exit code each kind of error gives.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostics;

/// Exit code for invalid input: the fleet repository, a snapshot or a rendered tree.
pub const EXIT_INVALID: i32 = 1;
/// Exit code for a bad command line (clap uses it too).
pub const EXIT_USAGE: i32 = 2;
/// Exit code for failures of the environment: files, git, network.
pub const EXIT_FAILURE: i32 = 3;

/// Everything that can go wrong in fleeet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input has problems; each is listed with its file, line and column.
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("{} is not a fleet repository: {reason}", path.display())]
    NotAFleet { path: PathBuf, reason: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A git operation failed: reading or writing a repository, fetching or pushing.
    #[error("{context}: {message}")]
    Git { context: String, message: String },
    /// A Kubernetes API server could not be used: unreachable, forbidden, or an unexpected answer.
    #[error("{message}")]
    Kubernetes {
        message: String,
        hint: Option<String>,
    },
    /// A request the user made that cannot be honoured (unknown cluster, unsafe output path, ...).
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    /// A GitHub API request failed: what fleeet was doing, GitHub's status and message.
    #[error("{message}")]
    GitHub {
        message: String,
        hint: Option<String>,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A request that cannot be honoured, with a hint of what to do instead.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid(_) | Error::NotAFleet { .. } => EXIT_INVALID,
            Error::Usage { .. } => EXIT_USAGE,
            Error::Io { .. }
            | Error::Git { .. }
            | Error::GitHub { .. }
            | Error::Kubernetes { .. } => EXIT_FAILURE,
        }
    }

    /// A suggestion of what to do, when there is one beyond the message.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Usage { hint, .. }
            | Error::GitHub { hint, .. }
            | Error::Kubernetes { hint, .. } => hint.as_deref(),
            Error::NotAFleet { .. } => Some(
                "point --fleet at the folder holding fleet.yaml (default: the current directory)",
            ),
            _ => None,
        }
    }
}

impl From<Diagnostics> for Error {
    fn from(diagnostics: Diagnostics) -> Self {
        Error::Invalid(diagnostics)
    }
}
