//! tenancy-codegen: pure functions from the tenancy IR to Rust and SQL.
//!
//! - [`rust::models`]: Diesel `table!`s, joins, row/insert structs, `OrgId`.
//! - [`sql`]: DDL, RLS, `auth_org_id()`, the immutability trigger, grants.
//! - [`plan`]: (snapshot, declaration) → the next migrations, and history re-rendering.
//!
//! Nothing here reads or writes files or talks to a database.

pub mod plan;
pub mod rust;
pub mod sql;

pub use plan::{Migration, PlanError, migration_files, parse_snapshot, plan, render_history};

#[cfg(test)]
mod tests;
