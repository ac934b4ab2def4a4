//! Test databases: see `tenancy_migrate::testing` (shared with the unit tests of the checks).

pub use tenancy_migrate::testing::*;
