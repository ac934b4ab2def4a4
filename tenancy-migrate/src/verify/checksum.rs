//! The checksum verify takes before and after its run: the catalog of schema public (tables and
//! their privileges, constraints, policies, triggers, functions), the app role and what it is a
//! member of, every declared table's rows, and every sequence's state. Equal checksums are what
//! "no trace" in the report means — including no `nextval`.

use crate::catalog::{JsonRow, as_json};
use crate::error::{Error, Result};
use diesel::{PgConnection, RunQueryDsl};
use tenancy_codegen::sql::{ident, literal};
use tenancy_schema::Schema;

pub fn checksum(conn: &mut PgConnection, schema: &Schema) -> Result<String> {
    let mut parts = vec![format!(
        "(WITH RECURSIVE members(roleid) AS (
             SELECT a.roleid FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.member WHERE r.rolname = {role}
             UNION SELECT a.roleid FROM pg_catalog.pg_auth_members a JOIN members ON a.member = members.roleid)
         SELECT md5(string_agg(v, ',' ORDER BY v)) FROM (
           SELECT c.relname || ':' || c.relkind::text || ':' || c.relrowsecurity || c.relforcerowsecurity || ':' || coalesce(c.relacl::text, '')
                  || ':' || pg_catalog.pg_get_userbyid(c.relowner)
             FROM pg_catalog.pg_class c WHERE c.relnamespace  IN {namespaces}
           UNION ALL SELECT conrelid::regclass::text || conname || pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint
             WHERE connamespace  IN {namespaces}
           UNION ALL SELECT polrelid::regclass::text || polname || polcmd::text || polpermissive || polroles::text
                  || coalesce(pg_catalog.pg_get_expr(polqual, polrelid), '') || coalesce(pg_catalog.pg_get_expr(polwithcheck, polrelid), '')
             FROM pg_catalog.pg_policy
           UNION ALL SELECT tgrelid::regclass::text || tgname || tgenabled::text FROM pg_catalog.pg_trigger WHERE NOT tgisinternal
           UNION ALL SELECT p.oid::regprocedure::text || md5(p.prosrc) || coalesce(p.proacl::text, '') FROM pg_catalog.pg_proc p
             WHERE p.pronamespace  IN {namespaces}
           UNION ALL SELECT 'schema:' || nspname || coalesce(nspacl::text, '') FROM pg_catalog.pg_namespace
           UNION ALL SELECT rolname || rolsuper || rolbypassrls || rolinherit FROM pg_catalog.pg_roles WHERE rolname = {role}
           UNION ALL SELECT 'member of:' || m.roleid::regrole::text FROM members m
           UNION ALL SELECT 'sequence:' || schemaname || '.' || sequencename || ':' || coalesce(last_value::text, 'unused')
             FROM pg_catalog.pg_sequences WHERE schemaname <> 'pg_catalog') x(v))",
        role = literal(&schema.settings.app_role),
        namespaces = namespaces(schema),
    )];
    // Tables that do not exist would fail the query: only existing ones are summed.
    let existing: Vec<String> = crate::scan::json_rows(
        conn,
        &format!(
            "SELECT c.relname AS name FROM pg_catalog.pg_class c WHERE c.relnamespace IN {} AND c.relkind IN ('r', 'p')",
            namespaces(schema)
        ),
        "listing tables for the checksum",
    )?;
    for table in &schema.tables {
        let name = serde_json::json!({ "name": table.name }).to_string();
        if !existing
            .iter()
            .any(|row| serde_json::from_str::<serde_json::Value>(row).ok() == serde_json::from_str(&name).ok())
        {
            continue;
        }
        parts.push(format!(
            "(SELECT count(*)::text || md5(coalesce(string_agg(h, ',' ORDER BY h), '')) FROM (SELECT md5(t::text) AS h FROM {} t) rows)",
            ident(&table.name)
        ));
    }
    // One statement per part: Citus plans the catalog's recursive CTE and a distributed
    // table's rows only apart.
    let mut sums = Vec::new();
    for part in &parts {
        let sql = format!("SELECT md5({part}) AS checksum");
        let row = diesel::sql_query(as_json(&sql))
            .get_result::<JsonRow>(conn)
            .map_err(|e| Error::query("computing the verify checksum", e))?;
        let value: serde_json::Value = serde_json::from_str(&row.row).unwrap_or_default();
        sums.push(value["checksum"].as_str().unwrap_or_default().to_owned());
    }
    let sql = format!("SELECT md5({}) AS checksum", tenancy_codegen::sql::literal(&sums.join(",")));
    let row = diesel::sql_query(as_json(&sql))
        .get_result::<JsonRow>(conn)
        .map_err(|e| Error::query("computing the verify checksum", e))?;
    let value: serde_json::Value = serde_json::from_str(&row.row).unwrap_or_default();
    Ok(value["checksum"].as_str().unwrap_or_default().to_owned())
}

/// `(SELECT oid ...)` of every schema of the declaration.
fn namespaces(schema: &Schema) -> String {
    let names: Vec<String> = schema.schemas().iter().map(|s| literal(s)).collect();
    format!("(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname IN ({}))", names.join(", "))
}
