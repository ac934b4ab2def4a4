//! Loading [`Live`]: the facts a conversion needs beyond the catalog, with a constant number of
//! queries.

use crate::error::{Error, Result};
use diesel::sql_types::Text;
use diesel::{PgConnection, RunQueryDsl};
use std::collections::BTreeMap;
use tenancy_codegen::catalog::Catalog;
use tenancy_codegen::convert::{Live, LiveSequence, Placement};
use tenancy_codegen::ddl::Privilege;
use tenancy_codegen::sql::{ident, names};
use tenancy_schema::Schema;

#[derive(diesel::QueryableByName)]
struct Definition {
    #[diesel(sql_type = Text)]
    owner: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

pub fn load(conn: &mut PgConnection, schema: &Schema, catalog: &Catalog, namespace: &str) -> Result<Live> {
    let definitions = |conn: &mut PgConnection, doing: &str, sql: &str| -> Result<Vec<Definition>> {
        diesel::sql_query(sql)
            .bind::<Text, _>(namespace)
            .bind::<Text, _>(&schema.settings.app_role)
            .load::<Definition>(conn)
            .map_err(|e| Error::query(doing.to_owned(), e))
    };
    let by_owner = |rows: Vec<Definition>| {
        let mut map: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for d in rows {
            map.entry(d.owner).or_default().insert(d.name, d.definition);
        }
        map
    };
    let constraint_definitions = by_owner(definitions(
        conn,
        "reading constraint definitions",
        "SELECT c.relname::text AS owner, k.conname::text AS name, pg_catalog.pg_get_constraintdef(k.oid) AS definition
         FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY (string_to_array($1, ',')) AND $2 IS NOT NULL",
    )?);
    let trigger_definitions = by_owner(definitions(
        conn,
        "reading trigger definitions",
        "SELECT c.relname::text AS owner, t.tgname::text AS name, pg_catalog.pg_get_triggerdef(t.oid) AS definition
         FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY (string_to_array($1, ',')) AND NOT t.tgisinternal AND $2 IS NOT NULL",
    )?);
    let function = definitions(
        conn,
        "reading auth_org_id()",
        "SELECT pg_catalog.format_type(p.prorettype, NULL) AS owner, p.proname::text AS name,
                pg_catalog.pg_get_functiondef(p.oid) AS definition
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = split_part($1, ',', 1) AND p.proname = 'auth_org_id' AND p.pronargs = 0 AND $2 IS NOT NULL",
    )?;
    let privileges = definitions(
        conn,
        "reading the app role's privileges",
        "SELECT c.relname::text AS owner, p.privilege AS name, '' AS definition
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p(privilege)
         WHERE n.nspname = ANY (string_to_array($1, ',')) AND c.relkind IN ('r', 'p')
           AND EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $2)
           AND pg_catalog.has_table_privilege($2, c.oid, p.privilege)",
    )?;
    // Sequences a column default draws from (`nextval`), through the default's dependency.
    #[derive(diesel::QueryableByName)]
    struct SequenceRow {
        #[diesel(sql_type = Text)]
        table: String,
        #[diesel(sql_type = Text)]
        schema: String,
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        app_usage: bool,
    }
    let sequence_rows = diesel::sql_query(
        "SELECT c.relname::text AS table, sn.nspname::text AS schema, s.relname::text AS name,
                coalesce(EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $2)
                         AND pg_catalog.has_sequence_privilege($2, s.oid, 'USAGE'), false) AS app_usage
         FROM pg_catalog.pg_attrdef ad JOIN pg_catalog.pg_class c ON c.oid = ad.adrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
              AND d.refclassid = 'pg_catalog.pg_class'::regclass
         JOIN pg_catalog.pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
         JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
         WHERE n.nspname = ANY (string_to_array($1, ','))
         ORDER BY 1, 2, 3",
    )
    .bind::<Text, _>(namespace)
    .bind::<Text, _>(&schema.settings.app_role)
    .load::<SequenceRow>(conn)
    .map_err(|e| Error::query("reading the sequences of column defaults".to_owned(), e))?;
    let mut sequences: BTreeMap<String, Vec<LiveSequence>> = BTreeMap::new();
    for row in sequence_rows {
        let sequence = LiveSequence { schema: row.schema, name: row.name, app_usage: row.app_usage };
        sequences.entry(row.table).or_default().push(sequence);
    }
    let mut app_privileges: BTreeMap<String, Vec<Privilege>> = BTreeMap::new();
    for row in privileges {
        app_privileges.entry(row.owner).or_default().extend(Privilege::from_sql(&row.name));
    }
    let root = schema.root();
    let default_org_exists = match &schema.settings.default_org {
        None => false,
        Some(org) => {
            let sql = format!(
                "SELECT '' AS owner, '' AS name, count(*)::text AS definition FROM {} WHERE {}::text = $1 AND $2 IS NOT NULL",
                ident(&root.name),
                ident(&root.key().name)
            );
            let exists = diesel::sql_query(sql)
                .bind::<Text, _>(org)
                .bind::<Text, _>("")
                .load::<Definition>(conn)
                .map(|rows| rows.first().is_some_and(|r| r.definition != "0"));
            // A missing root table is planned for (created); the organization is inserted.
            exists.unwrap_or(false)
        }
    };
    let claim_keys_exist = diesel::sql_query(format!(
        "SELECT '' AS owner, '' AS name, (to_regclass({}) IS NOT NULL)::text AS definition WHERE $1 IS NOT NULL AND $2 IS NOT NULL",
        tenancy_codegen::sql::literal(&format!("{}.{}", ident(names::KEY_SCHEMA), ident(names::KEY_TABLE)))
    ))
    .bind::<Text, _>(namespace)
    .bind::<Text, _>("")
    .load::<Definition>(conn)
    .map_err(|e| Error::query("looking for the claim keys table", e))?
    .first()
    .is_some_and(|r| r.definition == "true");
    Ok(Live {
        constraint_definitions,
        trigger_definitions,
        auth_org_id_returns: function.first().map(|f| f.owner.clone()),
        auth_org_id_definition: function.into_iter().next().map(|f| f.definition),
        app_privileges,
        default_org_exists,
        claim_keys_exist,
        sequences,
        placement: placement(conn, schema, catalog)?,
    })
}

/// The placement census is the scan's data pass (NULL and missing organizations per tenant
/// table with the org column, sample keys, validated keys not trusted), read for the planner.
/// Tables the connecting role cannot read past row-level security get none.
fn placement(conn: &mut PgConnection, schema: &Schema, catalog: &Catalog) -> Result<BTreeMap<String, Placement>> {
    let pass = crate::scan::data::run(conn, schema, catalog)?;
    Ok(pass
        .tables
        .into_iter()
        .map(|t| {
            let missing = t.orphan_org.unwrap_or_default();
            let census = Placement {
                null_rows: t.null_org.rows,
                null_keys: t.null_org.samples,
                missing_rows: missing.rows,
                missing_keys: missing.samples,
            };
            (t.table, census)
        })
        .collect())
}
