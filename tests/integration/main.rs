//! The integration tests: one binary (see ripgrep), one module per area.

mod support;

mod cli;
mod e2e;
mod errors;
mod git;
mod github;
mod health;
mod incremental;
mod inventory;
mod killed;
mod limits;
mod management;
mod plan;
mod reconcile;
mod render;
