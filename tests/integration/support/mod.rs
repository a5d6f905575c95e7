//! Test support: fake servers speaking real wire formats.

pub mod github;
