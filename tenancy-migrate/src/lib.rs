//! tenancy-migrate: the library behind the `tenancy-migrate` binary.
//!
//! - [`db`]: connecting, with errors that say what to fix.
//! - [`migrate`]: apply / status / revert of the embedded migrations under an advisory lock.
//! - [`models`]: the typed Diesel models generated from the declaration by build.rs.
//! - [`cluster`]: a throwaway local PostgreSQL for xtask and tests.

pub mod cli;
pub mod cluster;
pub mod db;
pub mod error;
pub mod migrate;
pub mod models;

pub use error::{Error, Result};
