//! Code shared by the benches, the `synthetic_fleet` example and the integration tests.

pub mod fleet;
pub mod scenario;
