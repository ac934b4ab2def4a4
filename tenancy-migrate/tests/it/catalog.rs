//! After `apply` on an empty database, every tenant table has each property of product.md §4,
//! read back from pg_catalog (not from our IR, which only supplies the expected table list).

use crate::support::{TestDb, count, texts};
use diesel::{PgConnection, RunQueryDsl};

#[derive(diesel::QueryableByName)]
struct Fact {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    v: Option<String>,
}

/// Runs `sql` with `$1` bound to the table name; returns the single text column of each row.
fn facts(conn: &mut PgConnection, sql: &str, table: &str) -> Vec<String> {
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::Text, _>(table)
        .load::<Fact>(conn)
        .unwrap_or_else(|e| panic!("{sql} ({table}): {e}"))
        .into_iter()
        .map(|f| f.v.unwrap_or_default())
        .collect()
}

const CONSTRAINT_COLUMNS: &str = "array_to_string(array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i) \
     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), ',')";

#[test]
fn every_tenant_table_has_the_section_4_properties_in_pg_catalog() {
    let db = TestDb::migrated("catalog_properties");
    let mut conn = db.admin();
    let (schema, _) = tenancy_schema::load_dir(&tenancy_schema::workspace_declaration_dir()).unwrap();
    let mut declared: Vec<String> = schema.tables.iter().filter(|t| t.is_tenant()).map(|t| t.name.clone()).collect();
    declared.sort();

    // The catalog's own answer to "which tables are org-scoped": those with an org_id column.
    let found = texts(
        &mut conn,
        "SELECT c.relname::text AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped \
         WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1",
    );
    assert_eq!(found, declared);
    assert_eq!(found.len(), 24, "23 tenant tables and user_organizations");

    for table in &found {
        let ctx = |what: &str| format!("{table}: {what}");
        let column = facts(
            &mut conn,
            "SELECT format_type(atttypid, atttypmod) || ' not null=' || attnotnull AS v FROM pg_attribute \
             WHERE attrelid = $1::regclass AND attname = 'org_id'",
            table,
        );
        assert_eq!(column, ["uuid not null=true"], "{}", ctx("org_id uuid NOT NULL"));

        let primary = facts(
            &mut conn,
            &format!(
                "SELECT {CONSTRAINT_COLUMNS} AS v FROM pg_constraint c WHERE conrelid = $1::regclass AND contype = 'p'"
            ),
            table,
        );
        assert_eq!(primary, ["org_id,id"], "{}", ctx("primary key (org_id, id)"));

        let org_fk = facts(
            &mut conn,
            &format!(
                "SELECT {CONSTRAINT_COLUMNS} || ' -> ' || confrelid::regclass::text || ' on delete ' || confdeltype::text AS v \
                 FROM pg_constraint c WHERE conrelid = $1::regclass AND contype = 'f' AND confrelid = 'organizations'::regclass"
            ),
            table,
        );
        assert_eq!(org_fk, ["org_id -> organizations on delete c"], "{}", ctx("org FK ON DELETE CASCADE"));

        // Every FK to another tenant table is composite, leading with org_id.
        let tenant_fks = facts(
            &mut conn,
            &format!(
                "SELECT {CONSTRAINT_COLUMNS} AS v FROM pg_constraint c WHERE conrelid = $1::regclass AND contype = 'f' \
                 AND EXISTS (SELECT FROM pg_attribute p WHERE p.attrelid = c.confrelid AND p.attname = 'org_id') \
                 AND confrelid <> 'organizations'::regclass"
            ),
            table,
        );
        for fk in &tenant_fks {
            assert!(fk.starts_with("org_id,"), "{}", ctx(&format!("tenant FK ({fk}) omits org_id")));
        }

        let keys = facts(
            &mut conn,
            &format!(
                "SELECT {CONSTRAINT_COLUMNS} AS v FROM pg_constraint c WHERE conrelid = $1::regclass AND contype IN ('p', 'u')"
            ),
            table,
        );
        for key in &keys {
            assert!(key.starts_with("org_id,"), "{}", ctx(&format!("unique/primary key ({key}) without org_id first")));
        }

        let org_indexes = facts(
            &mut conn,
            "SELECT indexrelid::regclass::text AS v FROM pg_index i JOIN pg_attribute a \
             ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = $1::regclass AND a.attname = 'org_id'",
            table,
        );
        assert!(!org_indexes.is_empty(), "{}", ctx("no index leading with org_id"));

        let rls = facts(
            &mut conn,
            "SELECT relrowsecurity || ',' || relforcerowsecurity AS v FROM pg_class WHERE oid = $1::regclass",
            table,
        );
        assert_eq!(rls, ["true,true"], "{}", ctx("ENABLE and FORCE ROW LEVEL SECURITY"));

        let policies = facts(
            &mut conn,
            "SELECT polcmd::text || '|' || polpermissive || '|' || array_to_string(array(SELECT rolname FROM pg_roles WHERE oid = ANY (polroles)), ',') \
             || '|' || pg_get_expr(polqual, polrelid) || '|' || pg_get_expr(polwithcheck, polrelid) AS v \
             FROM pg_policy WHERE polrelid = $1::regclass",
            table,
        );
        let claim = "(org_id = ( SELECT auth_org_id() AS auth_org_id))";
        assert_eq!(
            policies,
            [format!("*|true|app_user|{claim}|{claim}")],
            "{}",
            ctx("one policy on org_id in USING and WITH CHECK")
        );

        let triggers = facts(
            &mut conn,
            "SELECT tgfoid::regproc::text || ' enabled=' || tgenabled::text || ' before_update_row=' || \
             ((tgtype & 1) = 1 AND (tgtype & 2) = 2 AND (tgtype & 16) = 16) AS v \
             FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal",
            table,
        );
        assert_eq!(
            triggers,
            ["tenancy_org_id_immutable enabled=O before_update_row=true"],
            "{}",
            ctx("immutability trigger")
        );

        let grants = facts(
            &mut conn,
            "SELECT string_agg(p, ',' ORDER BY p) AS v FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE']) p \
             WHERE has_table_privilege('app_user', $1::regclass, p)",
            table,
        );
        assert_eq!(grants, ["DELETE,INSERT,SELECT,UPDATE"], "{}", ctx("app role grants"));

        let owner_is_app = facts(
            &mut conn,
            "SELECT (relowner = 'app_user'::regrole)::text AS v FROM pg_class WHERE oid = $1::regclass",
            table,
        );
        assert_eq!(owner_is_app, ["false"], "{}", ctx("app role must not own the table"));
    }

    // Global and shared tables: readable, not writable; internal ones: nothing at all.
    for (table, expected) in [("users", Some("SELECT")), ("plans", Some("SELECT")), ("admin_users", None)] {
        let grants = facts(
            &mut conn,
            "SELECT string_agg(p, ',' ORDER BY p) AS v FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) p \
             WHERE has_table_privilege('app_user', $1::regclass, p)",
            table,
        );
        let expected: Vec<String> = expected.map(str::to_owned).into_iter().collect();
        let got: Vec<String> = grants.into_iter().filter(|g| !g.is_empty() && g != "null").collect();
        assert_eq!(got, expected, "{table}: the app role's privileges");
    }

    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_roles WHERE rolname = 'app_user' AND NOT rolsuper AND NOT rolbypassrls"
        ),
        1,
        "app role is NOSUPERUSER NOBYPASSRLS"
    );
    let function = texts(
        &mut conn,
        "SELECT provolatile::text || '|' || array_to_string(proconfig, ',') || '|' || prosrc AS t FROM pg_proc WHERE proname = 'auth_org_id'",
    );
    assert_eq!(function.len(), 1);
    let [volatility, config, source] = function[0].splitn(3, '|').collect::<Vec<_>>()[..] else {
        panic!("{function:?}")
    };
    assert_eq!(volatility, "s", "auth_org_id() is STABLE");
    assert_eq!(config, "search_path=pg_catalog, pg_temp", "auth_org_id() pins search_path");
    assert!(source.contains("nullif(current_setting('app.org_token', true), '')"), "missing claim → NULL: {source}");
    assert!(source.contains("sha256(k.outer_key || sha256(k.inner_key"), "the claim is verified (HMAC): {source}");
}
