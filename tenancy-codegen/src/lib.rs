//! tenancy-codegen: pure functions from the tenancy IR (and the live catalog, as data) to Rust and SQL.
//!
//! - [`rust::models`]: Diesel `table!`s, joins, row/insert structs, `OrgId`, the org-scoped API.
//! - [`ddl`]: the typed statements both planners emit, each with its rendering, lock and undo.
//! - [`sql`]: the statements of product.md §4 (DDL, RLS, `auth_org_id()`, the trigger, grants).
//! - [`plan`]: (snapshot, declaration) → the next migrations, and history re-rendering.
//! - [`catalog`]: the live database as plain data (the catalog queries' rows, typed).
//! - [`convert`]: (catalog, live facts, declaration, options) → a lock-safe conversion plan.
//!
//! Nothing here reads or writes files or talks to a database; no diesel.

pub mod catalog;
pub mod citus;
pub mod claim;
pub mod convert;
pub mod ddl;
pub mod error;
pub mod plan;
pub mod rust;
pub mod sql;

pub use error::{PlanError, Planning};
pub use plan::{Migration, migration_files, parse_snapshot, plan, render_history};

#[cfg(test)]
mod tests;
