//! The catalog queries: `$1` the schemas (comma-separated), `$2` one object's name or NULL for all, `$3` the
//! app role. Every value is bound, never formatted into the SQL; only `pg_catalog` is read.

use serde::{Deserialize, Serialize};

/// One catalog query. [`Catalog::evidence`](super::Catalog::evidence) is keyed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Query {
    Session,
    Tables,
    Columns,
    Constraints,
    Indexes,
    Policies,
    Triggers,
    Functions,
    Views,
    Roles,
    Grants,
}

pub const SESSION: Query = Query::Session;
pub const TABLES: Query = Query::Tables;
pub const COLUMNS: Query = Query::Columns;
pub const CONSTRAINTS: Query = Query::Constraints;
pub const INDEXES: Query = Query::Indexes;
pub const POLICIES: Query = Query::Policies;
pub const TRIGGERS: Query = Query::Triggers;
pub const FUNCTIONS: Query = Query::Functions;
pub const VIEWS: Query = Query::Views;
pub const ROLES: Query = Query::Roles;
pub const GRANTS: Query = Query::Grants;

/// Every catalog query a scan runs, in order.
pub const ALL: [Query; 11] =
    [SESSION, TABLES, COLUMNS, CONSTRAINTS, INDEXES, POLICIES, TRIGGERS, FUNCTIONS, VIEWS, ROLES, GRANTS];

impl Query {
    /// What it reads, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Query::Session => "session",
            Query::Tables => "tables",
            Query::Columns => "columns",
            Query::Constraints => "constraints",
            Query::Indexes => "indexes",
            Query::Policies => "policies",
            Query::Triggers => "triggers",
            Query::Functions => "functions",
            Query::Views => "views",
            Query::Roles => "roles",
            Query::Grants => "grants",
        }
    }

    pub fn sql(self) -> &'static str {
        match self {
            Query::Session => SESSION_SQL,
            Query::Tables => TABLES_SQL,
            Query::Columns => COLUMNS_SQL,
            Query::Constraints => CONSTRAINTS_SQL,
            Query::Indexes => INDEXES_SQL,
            Query::Policies => POLICIES_SQL,
            Query::Triggers => TRIGGERS_SQL,
            Query::Functions => FUNCTIONS_SQL,
            Query::Views => VIEWS_SQL,
            Query::Roles => ROLES_SQL,
            Query::Grants => GRANTS_SQL,
        }
    }
}

const SESSION_SQL: &str = "SELECT current_database() AS database, current_setting('server_version') AS server_version,
       r.rolname AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

const TABLES_SQL: &str = "SELECT c.relname AS name, pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       c.relrowsecurity AS rls_enabled, c.relforcerowsecurity AS rls_forced,
       c.reltuples::bigint AS estimated_rows,
       pg_catalog.has_table_privilege(c.oid, 'SELECT') AS readable,
       CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $3)
            THEN pg_catalog.pg_has_role($3, c.relowner, 'USAGE') END AS app_role_owns
       , n.nspname AS schema
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY (string_to_array($1, ',')) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND ($2::text IS NULL OR c.relname = $2)
ORDER BY c.relname";

// A default cannot name a column, so it is printed without its table (`pg_get_expr(..., 0)`):
// given the table, pg_get_expr opens it, which at thousands of tables costs more than the rest of
// the query. A generated column's expression names columns: printed with its table.
const COLUMNS_SQL: &str = "SELECT c.relname AS table, a.attname AS name, a.attnum AS position,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       pg_catalog.pg_get_expr(d.adbin, CASE WHEN a.attgenerated = '' THEN 0 ELSE d.adrelid END) AS default
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = ANY (string_to_array($1, ',')) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND a.attnum > 0 AND NOT a.attisdropped AND ($2::text IS NULL OR c.relname = $2)
ORDER BY c.relname, a.attnum";

// CONSTRAINTS and INDEXES give columns by number (`conkey`, `indkey`); `Catalog::new` names
// them from the COLUMNS rows. Resolving thousands of tables' names in SQL (an array of each
// table's names, joined twice) was most of the catalog's time at 2,000 tables. Only a reference
// to a table the COLUMNS query does not read (another schema: `auth.users`) is named here, and an
// index's expressions as `pg_get_indexdef` prints them.
const CONSTRAINTS_SQL: &str = "SELECT c.relname AS table, k.conname AS name, k.contype::text AS kind,
       k.conkey AS column_numbers, f.relname AS ref_table, fn.nspname AS ref_schema,
       coalesce(k.confkey, '{}') AS ref_column_numbers,
       CASE WHEN k.confrelid <> 0 AND NOT (fn.nspname = ANY (string_to_array($1, ',')) AND f.relkind IN ('r', 'p')
                                          AND NOT f.relispartition)
            THEN ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(num, i)
                       JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num ORDER BY u.i)
            ELSE '{}' END AS ref_columns,
       NULLIF(k.confdeltype::text, ' ') AS on_delete, k.convalidated AS validated
FROM pg_catalog.pg_constraint k
JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class f ON f.oid = k.confrelid
LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace
WHERE n.nspname = ANY (string_to_array($1, ',')) AND k.contype IN ('p', 'u', 'f') AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition AND ($2::text IS NULL OR c.relname = $2)
ORDER BY c.relname, k.conname";

const INDEXES_SQL: &str = "SELECT c.relname AS table, i.relname AS name, x.indisunique AS unique, x.indisprimary AS primary,
       x.indisvalid AS valid, x.indpred IS NOT NULL AS partial,
       ARRAY(SELECT u.num FROM unnest(x.indkey::int2[]) WITH ORDINALITY u(num, i)
             WHERE u.i <= x.indnkeyatts ORDER BY u.i) AS column_numbers,
       CASE WHEN 0 = ANY (x.indkey::int2[])
            THEN ARRAY(SELECT CASE WHEN u.num = 0 THEN '(' || pg_catalog.pg_get_indexdef(x.indexrelid, u.i::int, true) || ')' END
                       FROM unnest(x.indkey::int2[]) WITH ORDINALITY u(num, i) WHERE u.i <= x.indnkeyatts ORDER BY u.i)
            ELSE '{}' END AS expressions
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY (string_to_array($1, ',')) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND ($2::text IS NULL OR c.relname = $2)
ORDER BY c.relname, i.relname";

const POLICIES_SQL: &str =
    "SELECT c.relname AS table, p.polname AS name, p.polcmd::text AS command, p.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r)::text END
             FROM unnest(p.polroles) r ORDER BY 1) AS roles,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using,
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
FROM pg_catalog.pg_policy p
JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY (string_to_array($1, ',')) AND ($2::text IS NULL OR c.relname = $2)
ORDER BY c.relname, p.polname";

const TRIGGERS_SQL: &str =
    "SELECT c.relname AS table, t.tgname AS name, t.tgtype::int AS type, t.tgenabled::text AS enabled,
       p.proname AS function, p.prosrc AS function_source, p.prosecdef AS function_definer,
       t.tgattr::int2[] AS column_numbers
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
WHERE n.nspname = ANY (string_to_array($1, ',')) AND NOT t.tgisinternal AND ($2::text IS NULL OR c.relname = $2)
ORDER BY c.relname, t.tgname";

const FUNCTIONS_SQL: &str =
    "SELECT p.proname AS name, pg_catalog.pg_get_function_identity_arguments(p.oid) AS arguments,
       p.provolatile::text AS volatility, p.prosecdef AS security_definer,
       coalesce(p.proconfig, '{}') AS config, p.prosrc AS source, l.lanname AS language,
       p.prorettype = 'pg_catalog.trigger'::regtype AS returns_trigger,
       CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $3)
            THEN pg_catalog.has_function_privilege($3, p.oid, 'EXECUTE') END AS app_role_can_execute
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE n.nspname = ANY (string_to_array($1, ',')) AND p.prokind IN ('f', 'p') AND ($2::text IS NULL OR p.proname = $2)
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY p.proname, 2";

const VIEWS_SQL: &str = "SELECT v.relname AS name, v.relkind::text AS kind, coalesce(v.reloptions, '{}') AS options,
       ARRAY(SELECT DISTINCT t.relname::text FROM pg_catalog.pg_rewrite r
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
                  AND d.refclassid = 'pg_catalog.pg_class'::regclass
             JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
             WHERE r.ev_class = v.oid AND t.oid <> v.oid AND t.relkind IN ('r', 'p')
                   AND t.relnamespace = v.relnamespace ORDER BY 1) AS tables,
       CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $3)
            THEN pg_catalog.has_table_privilege($3, v.oid, 'SELECT') END AS app_role_can_select
FROM pg_catalog.pg_class v JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace
WHERE n.nspname = ANY (string_to_array($1, ',')) AND v.relkind IN ('v', 'm') AND ($2::text IS NULL OR v.relname = $2)
ORDER BY v.relname";

const ROLES_SQL: &str =
    "SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls, r.rolinherit AS inherit
FROM pg_catalog.pg_roles r WHERE r.rolname = $3 AND ($2::text IS NULL OR r.rolname = $2)";

/// What the app role may do beyond row-level security: its privileges on the schema's tables and
/// views, on every schema, on the database, and the roles it is a member of (recursively,
/// whatever INHERIT says: `SET ROLE` works either way) with what makes them dangerous.
const GRANTS_SQL: &str = "WITH RECURSIVE app AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $3),
members(roleid) AS (
  SELECT a.roleid FROM pg_catalog.pg_auth_members a JOIN app ON a.member = app.oid
  UNION SELECT a.roleid FROM pg_catalog.pg_auth_members a JOIN members m ON a.member = m.roleid)
SELECT * FROM (
  SELECT 'table' AS kind, c.relname AS name,
         ARRAY(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
               WHERE pg_catalog.has_table_privilege($3, c.oid, p)) AS privileges
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY (string_to_array($1, ',')) AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition AND EXISTS (SELECT FROM app)
  UNION ALL
  SELECT 'schema', n.nspname,
         ARRAY(SELECT p FROM unnest(ARRAY['USAGE', 'CREATE']) p WHERE pg_catalog.has_schema_privilege($3, n.oid, p))
  FROM pg_catalog.pg_namespace n
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)' AND EXISTS (SELECT FROM app)
  UNION ALL
  SELECT 'database', current_database()::text,
         ARRAY(SELECT p FROM unnest(ARRAY['CREATE', 'TEMPORARY']) p WHERE pg_catalog.has_database_privilege($3, current_database(), p))
  WHERE EXISTS (SELECT FROM app)
  UNION ALL
  SELECT 'claim_keys', 'tenancy_private.claim_keys',
         ARRAY(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
               WHERE pg_catalog.has_table_privilege($3, c.oid, p))
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'tenancy_private' AND c.relname = 'claim_keys' AND EXISTS (SELECT FROM app)
  UNION ALL
  SELECT 'member_of', r.rolname::text,
         ARRAY(SELECT a FROM unnest(ARRAY[CASE WHEN r.rolsuper THEN 'SUPERUSER' END, CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END,
                                         CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                                                           WHERE n.nspname = ANY (string_to_array($1, ',')) AND c.relowner = r.oid AND c.relkind IN ('r', 'p'))
                                              THEN 'OWNS TABLES' END]) a WHERE a IS NOT NULL)
  FROM members m JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
  UNION ALL
  SELECT 'role_setting', coalesce(r.rolname::text, '*') || ' in ' || coalesce(d.datname::text, '*'), s.setconfig::text[]
  FROM pg_catalog.pg_db_role_setting s
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
  LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
  WHERE (s.setdatabase = 0 OR d.datname = current_database()) AND EXISTS (SELECT FROM app)
    AND (s.setrole = 0 OR (NOT r.rolsuper AND pg_catalog.pg_has_role(s.setrole, (SELECT oid FROM app), 'MEMBER')))
) g WHERE ($2::text IS NULL OR g.name = $2)
ORDER BY 1, 2";
