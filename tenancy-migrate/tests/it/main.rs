//! One integration-test binary for tenancy-migrate; every test runs against a real PostgreSQL
//! (a throwaway cluster under target/, or the server of DATABASE_URL), in its own database.

mod adoption;
mod apply;
mod backfill;
mod catalog;
mod citus;
mod claims;
mod compile_fail;
mod composite_keys;
mod convert;
mod errors;
mod fuzz;
mod harden;
mod isolation;
mod models;
mod plan_checks;
mod pool;
mod sabotage;
mod scan;
mod signed_claims;
mod squawk;
mod support;
mod types;
mod verify;
mod verify_samples;
