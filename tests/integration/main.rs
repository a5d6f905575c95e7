//! The integration tests: one binary, one module per area.

mod health;
mod inventory;
mod support;
