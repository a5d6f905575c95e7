//! fleeet renders per-cluster Flux pointer files for a dynamic fleet of Kubernetes clusters
//! and rolls changes out in waves.
//!
//! Data flows one way: [`load`] → [`model`] → [`select`] → [`template`] → [`render`] →
//! [`layout`] → [`write`]. The core ([`select`], [`template`], [`render`]) does no I/O.

pub mod bootstrap;
pub mod cli;
pub mod content;
pub mod diagnostic;
pub mod error;
pub mod explain;
pub mod free;
pub mod git;
pub mod github;
pub mod health;
pub mod inventory;
pub mod kubernetes;
pub mod layout;
pub mod load;
pub mod management;
pub mod model;
pub mod preview;
pub mod reconcile;
pub mod render;
pub mod report;
pub mod rollout;
pub mod schema;
pub mod select;
pub mod template;
pub mod timing;
pub mod write;

pub use error::Error;
