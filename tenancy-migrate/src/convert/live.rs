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

/// Counts, per tenant table with its org column, the rows without an organization and with one
/// the root table does not have, and reads up to five keys of each (compared as text: a column
/// of the wrong type is the planner's refusal to make, not this query's error). One pass over
/// each table, as the connecting role with row-level security off.
fn placement(conn: &mut PgConnection, schema: &Schema, catalog: &Catalog) -> Result<BTreeMap<String, Placement>> {
    use diesel::Connection;
    let org = &schema.settings.org_column;
    let root = schema.root();
    let root_key = &root.key().name;
    let mut out = BTreeMap::new();
    if catalog.column(&root.name, root_key).is_none() {
        return Ok(out);
    }
    let qualified =
        |table: &tenancy_schema::Table| format!("{}.{}", ident(table.schema_in(&schema.settings)), ident(&table.name));
    let root_rows = format!("(SELECT {}::text AS k FROM {})", ident(root_key), qualified(root));
    #[derive(diesel::QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        null_rows: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        missing_rows: i64,
    }
    #[derive(diesel::QueryableByName)]
    struct Key {
        #[diesel(sql_type = Text)]
        key: String,
    }
    for table in schema.tables.iter().filter(|t| t.is_tenant() && catalog.column(&t.name, org).is_some()) {
        let t = qualified(table);
        let o = ident(org);
        let keys = table.key_names();
        let key = match keys.as_slice() {
            _ if keys.iter().any(|k| catalog.column(&table.name, k).is_none()) => "t.ctid".to_owned(),
            [one] => format!("t.{}", ident(one)),
            several => {
                format!("ROW({})", several.iter().map(|k| format!("t.{}", ident(k))).collect::<Vec<_>>().join(", "))
            }
        };
        let missing = format!("t.{o} IS NOT NULL AND NOT EXISTS (SELECT FROM {root_rows} r WHERE r.k = t.{o}::text)");
        let doing = format!("counting the rows of {} without an existing organization", table.name);
        let census = conn
            .transaction::<Placement, diesel::result::Error, _>(|conn| {
                diesel::sql_query("SET LOCAL row_security = off").execute(conn)?;
                let counts = diesel::sql_query(format!(
                    "SELECT count(*) FILTER (WHERE t.{o} IS NULL) AS null_rows,
                            count(*) FILTER (WHERE t.{o} IS NOT NULL AND r.k IS NULL) AS missing_rows
                     FROM {t} t LEFT JOIN {root_rows} r ON r.k = t.{o}::text"
                ))
                .get_result::<Counts>(conn)?;
                let mut keys_of = |condition: &str, rows: i64| -> diesel::QueryResult<Vec<String>> {
                    if rows == 0 {
                        return Ok(Vec::new());
                    }
                    let sql = format!("SELECT {key}::text AS key FROM {t} t WHERE {condition} ORDER BY {key} LIMIT 5");
                    Ok(diesel::sql_query(sql).load::<Key>(conn)?.into_iter().map(|k| k.key).collect())
                };
                let null_keys = keys_of(&format!("t.{o} IS NULL"), counts.null_rows)?;
                let missing_keys = keys_of(&missing, counts.missing_rows)?;
                Ok(Placement {
                    null_rows: counts.null_rows,
                    null_keys,
                    missing_rows: counts.missing_rows,
                    missing_keys,
                })
            })
            .map_err(|e| Error::query(doing, e))?;
        out.insert(table.name.clone(), census);
    }
    Ok(out)
}
