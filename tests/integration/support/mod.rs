//! Code shared by the integration tests.

/// The synthetic fleet generator of the benches.
#[path = "../../../benches/support/fleet.rs"]
pub mod fleet;
