//! Reading the catalog: runs the ten catalog queries of [`tenancy_codegen::catalog`] (one per
//! kind of object, so a scan costs the same round trips for 20 tables or 2,000) and hands their
//! rows, as JSON text, to [`Catalog::new`]. Every value is bound, never formatted into the SQL.

use crate::error::{Error, Result};
use diesel::sql_types::{Nullable, Text};
use diesel::{PgConnection, RunQueryDsl};
pub use tenancy_codegen::catalog::*;

/// Reads the catalog of `schema` with one query per kind of object.
pub fn load(conn: &mut PgConnection, schema: &str, app_role: &str) -> Result<Catalog> {
    let facts = load_facts(conn, schema, app_role)?;
    Catalog::from_facts(facts)
        .map_err(|err| Error::Database { doing: "reading the catalog".to_owned(), reason: err.to_string() })
}

/// The rows of every catalog query, as JSON text (serializable: the planner's tests read them back).
pub fn load_facts(conn: &mut PgConnection, schema: &str, app_role: &str) -> Result<Facts> {
    let mut facts = Facts { schema: schema.to_owned(), app_role: app_role.to_owned(), rows: Default::default() };
    for query in ALL {
        tracing::debug!(query = query.name(), schema, app_role, sql = query.sql(), "catalog query");
        let rows = diesel::sql_query(as_rows(query.sql()))
            .bind::<Text, _>(schema)
            .bind::<Nullable<Text>, _>(None::<String>)
            .bind::<Text, _>(app_role)
            .load::<JsonRow>(conn)
            .map_err(|err| catalog_error(query, err))?;
        facts.rows.insert(query, rows.into_iter().map(|r| r.row).collect());
    }
    Ok(facts)
}

/// A query's rows as the scan reads them (catalog rows, data counts, their evidence): JSON text,
/// `SELECT row_to_json(q)::text AS row FROM (<sql>) q`. `row_to_json`, not `to_jsonb`: the
/// catalog's arrays cost twice as much made into jsonb (constraints at 2,000 tables: 47 against
/// 101 ms); its keys keep the query's column order.
pub(crate) fn as_rows(sql: &str) -> String {
    format!("SELECT row_to_json(q)::text AS row FROM ({sql}) q")
}

/// A query's rows as JSON text: `SELECT to_jsonb(q)::text AS row FROM (<sql>) q`.
pub(crate) fn as_json(sql: &str) -> String {
    format!("SELECT to_jsonb(q)::text AS row FROM ({sql}) q")
}

#[derive(diesel::QueryableByName)]
pub(crate) struct JsonRow {
    #[diesel(sql_type = Text)]
    pub row: String,
}

fn catalog_error(query: Query, err: diesel::result::Error) -> Error {
    let reason = crate::error::first_line(&err.to_string());
    if reason.contains("permission denied") {
        Error::CatalogPermission { query: query.name().to_owned(), reason }
    } else {
        Error::query(format!("reading catalog {}", query.name()), reason)
    }
}
