//! `tenancy-migrate claim-key`: the signed claim's keys in the database. A key is read from an
//! environment variable or a file — never from the command line, where `ps` and shell history
//! would show it — and never printed, logged or put in a report: only its id is.
//!
//! Rotation without downtime: `install` the new key (both verify), switch the application to it,
//! then `retire` the old one (tokens signed with it stop verifying at once, or at `--at`).

use crate::error::{Error, Result};
use diesel::sql_types::{Nullable, Text};
use diesel::{PgConnection, RunQueryDsl};
use std::path::Path;
use tenancy_codegen::claim::{ClaimKey, bytea_hex};
use tenancy_codegen::sql::{ident, names};

/// Where a key comes from.
pub enum Source<'a> {
    Env(&'a str),
    File(&'a Path),
}

/// Reads a key (`<id>:<hex secret>`) from its source.
pub fn read(source: Source<'_>) -> Result<ClaimKey> {
    let (text, from) = match source {
        Source::Env(name) => (
            std::env::var(name).map_err(|_| {
                Error::ClaimKey(format!("environment variable {name} is not set; export it as <id>:<hex secret>"))
            })?,
            format!("environment variable {name}"),
        ),
        Source::File(path) => (
            std::fs::read_to_string(path).map_err(|e| Error::File {
                doing: "read the claim key from",
                path: path.display().to_string(),
                reason: e.to_string(),
            })?,
            path.display().to_string(),
        ),
    };
    ClaimKey::parse(&text).map_err(|e| Error::ClaimKey(format!("{from}: {e}")))
}

fn table() -> String {
    format!("{}.{}", ident(names::KEY_SCHEMA), ident(names::KEY_TABLE))
}

fn database(doing: &str, err: diesel::result::Error) -> Error {
    let reason = crate::error::first_line(&err.to_string());
    if reason.contains("does not exist") {
        Error::ClaimKey(format!(
            "{doing}: {reason}; this database has no signed-claim keys table: apply the migrations of a declaration with `claim = signed`"
        ))
    } else {
        Error::query(doing.to_owned(), reason)
    }
}

/// Installs `key` (refusing an id already installed: a key is never silently replaced).
pub fn install(conn: &mut PgConnection, key: &ClaimKey) -> Result<()> {
    let (inner, outer) = key.pads();
    let inserted = diesel::sql_query(format!(
        "INSERT INTO {} (id, inner_key, outer_key) VALUES ($1, $2::text::bytea, $3::text::bytea) ON CONFLICT (id) DO NOTHING",
        table()
    ))
    .bind::<Text, _>(&key.id)
    .bind::<Text, _>(bytea_hex(&inner))
    .bind::<Text, _>(bytea_hex(&outer))
    .execute(conn)
    .map_err(|e| database("installing the claim key", e))?;
    if inserted == 0 {
        return Err(Error::ClaimKey(format!(
            "a key with id {} is installed already; give the new key a new id (rotation: install, switch, retire)",
            key.id
        )));
    }
    Ok(())
}

/// Retires key `id` now, or at `at` (a timestamp PostgreSQL reads, e.g. `now() + interval '1 hour'`
/// is not accepted: give `2026-11-24 12:00+00`).
pub fn retire(conn: &mut PgConnection, id: &str, at: Option<&str>) -> Result<()> {
    let retired = diesel::sql_query(format!(
        "UPDATE {} SET retired_at = coalesce($2::timestamptz, now()) WHERE id = $1",
        table()
    ))
    .bind::<Text, _>(id)
    .bind::<Nullable<Text>, _>(at)
    .execute(conn)
    .map_err(|e| database("retiring the claim key", e))?;
    if retired == 0 {
        return Err(Error::ClaimKey(format!("no claim key with id {id}; `tenancy-migrate claim-key list` shows them")));
    }
    Ok(())
}

#[derive(diesel::QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub created_at: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub retired_at: Option<String>,
}

/// The installed keys: ids and dates only.
pub fn list(conn: &mut PgConnection) -> Result<Vec<Installed>> {
    diesel::sql_query(format!(
        "SELECT id, created_at::text AS created_at, retired_at::text AS retired_at FROM {} ORDER BY created_at, id",
        table()
    ))
    .load(conn)
    .map_err(|e| database("listing the claim keys", e))
}
