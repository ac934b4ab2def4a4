//! tenancy-migrate: the library behind the `tenancy-migrate` binary.
//!
//! - [`db`]: connecting, with errors that say what to fix.
//! - [`migrate`]: apply / status / revert of the embedded migrations under an advisory lock.
//! - [`catalog`]: the live database as facts, read with a constant number of catalog queries.
//! - [`scan`]: the declaration vs the live database; one check per file, findings with evidence.
//! - [`verify`]: attacks every tenant table as the app role, in a transaction rolled back.
//! - [`harden`]: the REVOKEs and role changes row-level security does not make for you.
//! - [`convert`]: `plan` a lock-safe conversion of a live database; `apply --dir` / `revert --dir`.
//! - [`models`]: the typed Diesel models generated from the declaration by build.rs.
//! - [`cluster`]: a throwaway local PostgreSQL for xtask and tests.

pub mod catalog;
pub mod citus;
pub mod claim_key;
pub mod cli;
pub mod cluster;
pub mod convert;
pub mod db;
pub mod declaration;
pub mod error;
pub mod files;
pub mod harden;
pub mod import;
pub mod logging;
pub mod migrate;
pub mod models;
pub mod sarif;
pub mod scan;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod verify;

pub use error::{Error, Result};
