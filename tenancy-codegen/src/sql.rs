//! IR → SQL: the DDL, row-level security, functions, triggers and grants of product.md §4.
//!
//! Every identifier goes through [`ident`] and every literal through [`literal`]; nothing else
//! formats names or values into SQL. Functions here return typed statements ([`Ddl`]), which
//! both planners group into migration files.

use crate::ddl::{
    ColumnDef, ColumnDefault, Constraint, Ddl, Element, Function, FunctionRef, Grantee, OnDelete, Policy, Privilege,
};
use tenancy_schema::ir::UniqueExpression;
use tenancy_schema::{Claim, Column, ColumnType, Reference, Schema, Scope, Settings, Table};

/// Quotes an SQL identifier: always double-quoted, embedded quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal: single-quoted, embedded quotes doubled.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Names of the objects tenancy creates, so the generator, the scan and the tests agree.
pub mod names {
    use tenancy_schema::MAX_IDENTIFIER_BYTES;

    pub const AUTH_ORG_ID: &str = "auth_org_id";
    pub const IMMUTABLE_TRIGGER_FUNCTION: &str = "tenancy_org_id_immutable";
    pub const IMMUTABLE_TRIGGER: &str = "tenancy_org_id_immutable";
    /// The schema of the signed claim's keys: only its owner (the migrating role) reads it.
    pub const KEY_SCHEMA: &str = "tenancy_private";
    pub const KEY_TABLE: &str = "claim_keys";

    pub fn primary_key(table: &str) -> String {
        object(table, &[], "pkey")
    }
    pub fn foreign_key(table: &str, column: &str) -> String {
        object(table, &[column], "fkey")
    }
    pub fn unique(table: &str, columns: &[&str]) -> String {
        object(table, columns, "key")
    }
    pub fn index(table: &str, columns: &[&str]) -> String {
        object(table, columns, "idx")
    }
    pub fn policy(table: &str) -> String {
        object(table, &[], "org_isolation")
    }
    /// The temporary `CHECK (org IS NOT NULL)` of a lock-safe conversion.
    pub fn not_null_check(table: &str, column: &str) -> String {
        object(table, &[column], "not_null")
    }
    /// The `(org, key)` index a conversion builds concurrently, then makes the primary key.
    pub fn primary_key_replacement(table: &str) -> String {
        object(table, &[], "pkey_new")
    }
    /// A legacy constraint renamed out of the way of the one replacing it.
    pub fn legacy(name: &str) -> String {
        object(name, &[], "legacy")
    }

    /// `table_col1_col2_suffix`, shortened with a stable hash when over PostgreSQL's 63 bytes
    /// (PostgreSQL would silently truncate it, and two long names could collide).
    fn object(table: &str, columns: &[&str], suffix: &str) -> String {
        let mut name = table.to_owned();
        for column in columns {
            name.push('_');
            name.push_str(column);
        }
        name.push('_');
        name.push_str(suffix);
        if name.len() <= MAX_IDENTIFIER_BYTES {
            return name;
        }
        let hash = format!("{:08x}", fnv1a(name.as_bytes()) as u32);
        let tail = format!("_{hash}_{suffix}");
        let mut head_len = MAX_IDENTIFIER_BYTES - tail.len();
        while !name.is_char_boundary(head_len) {
            head_len -= 1;
        }
        format!("{}{tail}", &name[..head_len])
    }

    fn fnv1a(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf29ce484222325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x100000001b3))
    }
}

/// Who wrote a generated SQL file, for its header.
pub const BY_CODEGEN: &str = "`cargo xtask codegen` from the tenancy declaration";
pub const BY_PLAN: &str = "`tenancy-migrate plan` from the live database and the tenancy declaration";

/// The first lines of every generated SQL file: who wrote it, its title, and the timeouts its
/// statements run under (`SET LOCAL` in a transaction, else for the session).
/// Outside `public`, the search path puts the declaration's schema first, so every unqualified
/// name — tables, `auth_org_id()`, the trigger function — is created and found there.
pub fn header(
    by: &str,
    title: &str,
    in_transaction: bool,
    lock_timeout: &str,
    statement_timeout: &str,
    schemas: &[&str],
) -> String {
    let set = if in_transaction { "SET LOCAL" } else { "SET" };
    // Every schema of the declaration on the search path, its own first (where unqualified new
    // objects go), then public; nothing to say for public alone.
    let mut search_path = String::new();
    if schemas.iter().any(|s| *s != "public") {
        for schema in schemas.iter().filter(|s| **s != "public") {
            search_path.push_str(&format!("CREATE SCHEMA IF NOT EXISTS {};\n", ident(schema)));
        }
        let mut path: Vec<String> = schemas.iter().map(|s| ident(s)).collect();
        if !schemas.contains(&"public") {
            path.push("public".to_owned());
        }
        search_path.push_str(&format!("{set} search_path = {};\n", path.join(", ")));
    }
    format!(
        "-- Generated by {by}. Do not edit by hand.\n\
         -- {title}\n\
         {set} lock_timeout = {};\n\
         {set} statement_timeout = {};\n\
         {search_path}",
        literal(lock_timeout),
        literal(statement_timeout),
    )
}

/// Creates the app role when missing, and refuses a role that would bypass row-level security.
pub fn ensure_app_role(schema: &Schema) -> Vec<Ddl> {
    let role = schema.settings.app_role.clone();
    let mut statements = vec![Ddl::EnsureAppRole { role: role.clone() }];
    statements.extend(
        schemas(schema).into_iter().map(|name| Ddl::GrantSchemaUsage { schema: name.to_owned(), role: role.clone() }),
    );
    statements
}

pub fn drop_app_role_grants(schema: &Schema) -> Vec<Ddl> {
    schemas(schema)
        .into_iter()
        .map(|name| Ddl::RevokeSchemaUsage { schema: name.to_owned(), role: schema.settings.app_role.clone() })
        .collect()
}

/// The schemas the app role uses: the declaration's, and `public` (where extensions' functions
/// usually live).
/// The schemas the app role uses: the declaration's, then public.
fn schemas(schema: &Schema) -> Vec<&str> {
    let mut out = schema.schemas();
    if !out.contains(&"public") {
        out.push("public");
    }
    out
}

/// `auth_org_id()`: the caller's organization, or NULL (never an error, never "all rows") when
/// the claim is missing, empty or — signed — forged, tampered with, expired or under a retired
/// key. STABLE so `(select auth_org_id())` is evaluated once per query. With `or_replace`,
/// `CREATE OR REPLACE` (a conversion fixing an existing function in place).
///
/// The signed preset's function is SECURITY DEFINER (the only way the keys are read) with a
/// fixed search_path (in PL/pgSQL, whose plans are cached per session), and computes
/// HMAC-SHA256 (RFC 2104) with PostgreSQL's own `sha256()`:
/// the key table stores the key already padded and XORed with ipad and opad, so the MAC is
/// `sha256(outer || sha256(inner || message))` — no extension needed.
pub fn auth_org_id(settings: &Settings, or_replace: bool) -> Vec<Ddl> {
    let signed = settings.claim.is_signed();
    let mut statements = vec![
        Ddl::CreateFunction(Function {
            name: names::AUTH_ORG_ID.to_owned(),
            or_replace,
            returns: settings.org_key.sql_name(),
            language: if signed { "plpgsql STABLE PARALLEL SAFE SECURITY DEFINER" } else { "sql STABLE PARALLEL SAFE" },
            body: format!(" {} ", auth_org_id_body(settings)),
            arguments: String::new(),
        }),
        Ddl::GrantExecute {
            function: FunctionRef { name: names::AUTH_ORG_ID.to_owned(), arguments: String::new() },
            to: vec![Grantee::Role(settings.app_role.clone())],
        },
    ];
    if signed {
        // Only the app role's policies call it; nobody else needs the verifier of the keys.
        statements.push(Ddl::RevokeExecute {
            function: FunctionRef { name: names::AUTH_ORG_ID.to_owned(), arguments: String::new() },
            from: vec![Grantee::Public],
        });
    }
    statements
}

/// The body of `auth_org_id()` (as `pg_proc.prosrc` holds it, trimmed).
pub fn auth_org_id_body(settings: &Settings) -> String {
    let ty = settings.org_key.sql_name();
    match &settings.claim {
        Claim::Setting(name) => format!("SELECT nullif(current_setting({}, true), '')::{ty}", literal(name)),
        // app_metadata is written by the server; user_metadata is editable by the user, never read.
        Claim::Postgrest => format!(
            "SELECT nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb #>> '{{app_metadata,org_id}}', '')::{ty}"
        ),
        // `<org>.<expiry>.<key id>.<hex mac>`, checked in order, so no input raises an error.
        // PL/pgSQL: its plans are cached for the session, where an SQL function's would be
        // planned again for every statement.
        Claim::Signed(name) => format!(
            "DECLARE\n\
             \x20 p text[] := string_to_array(nullif(current_setting({setting}, true), ''), '.');\n\
             \x20 k record;\n\
             BEGIN\n\
             \x20 IF array_length(p, 1) IS DISTINCT FROM 4\n\
             \x20    OR p[1] !~ {org_pattern}\n\
             \x20    OR p[2] !~ '^[0-9]{{1,15}}$' THEN\n\
             \x20   RETURN NULL;\n\
             \x20 END IF;\n\
             {org_range}\
             \x20 IF p[2]::bigint <= extract(epoch FROM now()) THEN\n\
             \x20   RETURN NULL;\n\
             \x20 END IF;\n\
             \x20 SELECT inner_key, outer_key INTO k FROM {schema}.{table}\n\
             \x20   WHERE id = p[3] AND (retired_at IS NULL OR retired_at > now());\n\
             \x20 IF NOT FOUND THEN\n\
             \x20   RETURN NULL;\n\
             \x20 END IF;\n\
             \x20 IF encode(sha256(k.outer_key || sha256(k.inner_key || convert_to(p[1] || '.' || p[2] || '.' || p[3], 'UTF8'))), 'hex') <> p[4] THEN\n\
             \x20   RETURN NULL;\n\
             \x20 END IF;\n\
             \x20 RETURN p[1]::{ty};\n\
             END",
            setting = literal(name),
            org_pattern = literal(signed_org_pattern(&settings.org_key)),
            org_range = signed_org_range(&settings.org_key),
            schema = ident(names::KEY_SCHEMA),
            table = ident(names::KEY_TABLE),
        ),
    }
}

/// What the organization part of a signed token must look like before it is cast: no token,
/// however malformed, makes `auth_org_id()` raise an error.
fn signed_org_pattern(key: &ColumnType) -> &'static str {
    match key {
        ColumnType::Uuid => "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        ColumnType::BigInt | ColumnType::Int => "^-?[0-9]{1,19}$",
        _ => "^[^.]+$",
    }
}

/// For integer keys, a range check before the cast (19 digits can overflow a bigint).
fn signed_org_range(key: &ColumnType) -> String {
    let (low, high) = match key {
        ColumnType::BigInt => (i64::MIN.to_string(), i64::MAX.to_string()),
        ColumnType::Int => (i32::MIN.to_string(), i32::MAX.to_string()),
        _ => return String::new(),
    };
    format!(
        "\x20 IF p[1]::numeric NOT BETWEEN {low} AND {high} THEN\n\
         \x20   RETURN NULL;\n\
         \x20 END IF;\n"
    )
}

/// The signed claim's keys: a schema only its owner can use, and the key table (`inner_key`,
/// `outer_key`: the key padded to SHA-256's 64-byte block, XORed with ipad and opad).
pub fn claim_keys() -> Vec<Ddl> {
    vec![Ddl::CreateClaimKeys { schema: names::KEY_SCHEMA.to_owned(), table: names::KEY_TABLE.to_owned() }]
}

pub fn drop_claim_keys() -> Vec<Ddl> {
    vec![Ddl::DropClaimKeys { schema: names::KEY_SCHEMA.to_owned() }]
}

/// The trigger function that rejects any change of a row's organization.
pub fn immutability_function(settings: &Settings, or_replace: bool) -> Ddl {
    let org = ident(&settings.org_column);
    Ddl::CreateFunction(Function {
        name: names::IMMUTABLE_TRIGGER_FUNCTION.to_owned(),
        or_replace,
        returns: "trigger".to_owned(),
        language: "plpgsql",
        body: format!(
            "\n\
             BEGIN\n\
             \x20 IF NEW.{org} IS DISTINCT FROM OLD.{org} THEN\n\
             \x20   RAISE EXCEPTION '% of a row in %.% cannot change', {org_literal}, TG_TABLE_SCHEMA, TG_TABLE_NAME\n\
             \x20     USING ERRCODE = 'integrity_constraint_violation',\n\
             \x20           HINT = 'rows never move between organizations; copy the row instead';\n\
             \x20 END IF;\n\
             \x20 RETURN NEW;\n\
             END\n",
            org_literal = literal(&settings.org_column),
        ),
        arguments: String::new(),
    })
}

pub fn drop_functions() -> Vec<Ddl> {
    [names::IMMUTABLE_TRIGGER_FUNCTION, names::AUTH_ORG_ID]
        .into_iter()
        .map(|name| Ddl::DropFunction {
            function: FunctionRef { name: name.to_owned(), arguments: String::new() },
            if_exists: false,
        })
        .collect()
}

/// `CREATE TABLE` with keys, uniques and the foreign keys whose targets exist, then indexes
/// (row-level security, the policy, the trigger and grants are [`security`]). `created` lists
/// tables that exist before this statement runs; references to other tables are returned as
/// deferred `ALTER TABLE ... ADD CONSTRAINT` for the caller to run once their targets exist.
pub fn create_table(schema: &Schema, table: &Table, created: &[&str]) -> (Vec<Ddl>, Vec<Ddl>) {
    let settings = &schema.settings;
    let org = settings.org_column.as_str();
    let tenant = table.is_tenant();
    let mut elements: Vec<Element> = Vec::new();
    if tenant {
        elements.push(Element::Column(ColumnDef {
            name: org.to_owned(),
            ty: settings.org_key.sql_name(),
            not_null: true,
            default: Some(ColumnDefault::Expression(format!("{}()", ident(names::AUTH_ORG_ID)))),
        }));
    }
    elements.extend(table.columns.iter().map(|c| Element::Column(column_definition(c))));
    let key_columns: Vec<&str> = tenant.then_some(org).into_iter().chain(table.key_names()).collect();
    elements.push(Element::Constraint(Constraint::PrimaryKey {
        name: names::primary_key(&table.name),
        columns: owned(&key_columns),
    }));
    for unique in unique_keys(table) {
        let columns: Vec<&str> =
            if tenant { std::iter::once(org).chain(unique.iter().copied()).collect() } else { unique };
        elements.push(Element::Constraint(Constraint::Unique {
            name: names::unique(&table.name, &columns),
            columns: owned(&columns),
        }));
    }
    // Declared to hold across organizations: no org column (an existence oracle by design).
    for columns in table.global_unique_keys() {
        elements.push(Element::Constraint(Constraint::Unique {
            name: names::unique(&table.name, &columns),
            columns: owned(&columns),
        }));
    }
    if tenant {
        elements.push(Element::Constraint(org_foreign_key(schema, &table.name)));
    }
    let mut deferred = Vec::new();
    for column in &table.columns {
        let Some(reference) = &column.references else {
            continue;
        };
        let constraint = foreign_key_constraint(schema, table, column, reference);
        if reference.table == table.name || created.contains(&reference.table.as_str()) {
            elements.push(Element::Constraint(constraint));
        } else {
            deferred.push(Ddl::AddConstraint { table: table.name.clone(), constraint, not_valid: false });
        }
    }
    let mut statements = vec![Ddl::CreateTable { table: table.name.clone(), schema: table.schema.clone(), elements }];
    statements.extend(indexes(settings, table).into_iter().map(|columns| {
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        Ddl::CreateIndex {
            name: names::index(&table.name, &names),
            table: table.name.clone(),
            columns,
            unique: false,
            concurrently: false,
            if_not_exists: false,
        }
    }));
    statements.extend(table.unique_expressions.iter().map(|e| expression_unique(settings, table, e, false)));
    (statements, deferred)
}

/// The unique index of an expression key: `(org_id, (lower(email)))` on a tenant table unless
/// declared global. `concurrently` for a live table (a conversion).
pub fn expression_unique(settings: &Settings, table: &Table, key: &UniqueExpression, concurrently: bool) -> Ddl {
    let expression = format!("({})", key.sql);
    let mut columns = Vec::new();
    if table.is_tenant() && !key.global {
        columns.push(settings.org_column.clone());
    }
    columns.push(expression);
    Ddl::CreateIndex {
        name: expression_unique_name(table, key),
        table: table.name.clone(),
        columns,
        unique: true,
        concurrently,
        if_not_exists: concurrently,
    }
}

/// `contacts_lower_email_key` for `lower(email)`.
pub fn expression_unique_name(table: &Table, key: &UniqueExpression) -> String {
    let words: String =
        key.sql.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let words: Vec<&str> = words.split('_').filter(|w| !w.is_empty()).collect();
    names::unique(&table.name, &[&words.join("_")])
}

/// A tenant table's `(org) REFERENCES root (key) ON DELETE CASCADE`.
pub fn org_foreign_key(schema: &Schema, table: &str) -> Constraint {
    let org = &schema.settings.org_column;
    Constraint::ForeignKey {
        name: names::foreign_key(table, org),
        columns: vec![org.clone()],
        table: schema.root().name.clone(),
        ref_columns: vec![schema.root().key().name.clone()],
        on_delete: Some(OnDelete::Cascade),
    }
}

/// Row-level security, policy, trigger and grants for one table.
pub fn security(settings: &Settings, table: &Table) -> Vec<Ddl> {
    let name = table.name.clone();
    let role = settings.app_role.clone();
    let claim = format!("(SELECT {}())", ident(names::AUTH_ORG_ID));
    let mut statements = Vec::new();
    if let Some(check) = belongs_to(settings, table, &claim) {
        statements.push(Ddl::EnableRls { table: name.clone() });
        statements.push(Ddl::ForceRls { table: name.clone() });
        // A shared table is read-only to the app role: its policy only decides what it sees.
        let shared = table.scope == Scope::Shared;
        statements.push(Ddl::CreatePolicy(Policy {
            name: names::policy(&table.name),
            table: name.clone(),
            permissive: true,
            command: if shared { "SELECT" } else { "ALL" },
            roles: vec![Grantee::Role(role.clone())],
            using: Some(check.clone()),
            with_check: (!shared).then_some(check),
        }));
    }
    if table.scope == Scope::Tenant {
        statements.push(Ddl::CreateTrigger {
            name: names::IMMUTABLE_TRIGGER.to_owned(),
            table: name.clone(),
            update_of: settings.org_column.clone(),
            function: names::IMMUTABLE_TRIGGER_FUNCTION.to_owned(),
        });
    }
    let privileges = app_privileges(table.scope);
    if !privileges.is_empty() {
        statements.push(Ddl::Grant { privileges: privileges.to_vec(), table: name, role });
    }
    statements
}

/// The column a table's policy compares with the claim: the org column of a tenant table, the
/// key of the organizations table; none for a global or shared table.
pub fn scope_column<'t>(settings: &'t Settings, table: &'t Table) -> Option<&'t str> {
    match table.scope {
        Scope::Tenant => Some(settings.org_column.as_str()),
        Scope::Root => Some(table.key().name.as_str()),
        Scope::Global | Scope::Shared | Scope::Internal => None,
    }
}

/// The condition under which a row of `table` belongs to organization `org` (an SQL
/// expression): `org_id = org`, or for a shared table a link row of that organization —
/// `EXISTS (SELECT FROM link WHERE link.col = table.key AND link.org_id = org)`. None for a
/// global table, whose rows belong to every organization.
pub fn belongs_to(settings: &Settings, table: &Table, org: &str) -> Option<String> {
    if let Some(column) = scope_column(settings, table) {
        return Some(format!("{} = {org}", ident(column)));
    }
    let link = table.link.as_ref().filter(|_| table.scope == Scope::Shared)?;
    let (l, t) = (ident(&link.table), ident(&table.name));
    Some(format!(
        "EXISTS (SELECT FROM {l} WHERE {l}.{} = {t}.{} AND {l}.{} = {org})",
        ident(&link.column),
        ident(&table.key().name),
        ident(&settings.org_column)
    ))
}

/// What the app role may do on a table of each scope.
pub fn app_privileges(scope: Scope) -> &'static [Privilege] {
    match scope {
        Scope::Tenant => &[Privilege::Select, Privilege::Insert, Privilege::Update, Privilege::Delete],
        // The app may read and rename its own organization, never create or delete one.
        Scope::Root => &[Privilege::Select, Privilege::Update],
        Scope::Global | Scope::Shared => &[Privilege::Select],
        Scope::Internal => &[],
    }
}

/// `ALTER TABLE ... ADD COLUMN` for a column added to an existing table.
pub fn add_column(table: &Table, column: &Column) -> Ddl {
    Ddl::AddColumn { table: table.name.clone(), column: column_definition(column), if_not_exists: false }
}

pub fn drop_column(table: &Table, column: &Column) -> Ddl {
    Ddl::DropColumn { table: table.name.clone(), column: column.name.clone(), if_exists: false }
}

/// The columns of a declared reference: between tenant tables composite, so a row can only
/// point at a parent of its own organization (FK checks ignore RLS).
pub fn reference_columns<'s>(
    schema: &'s Schema,
    table: &Table,
    column: &'s Column,
    reference: &'s Reference,
) -> (Vec<&'s str>, Vec<&'s str>) {
    let org = schema.settings.org_column.as_str();
    let composite = table.is_tenant() && schema.table(&reference.table).is_some_and(Table::is_tenant);
    if composite {
        (vec![org, &column.name], vec![org, &reference.column])
    } else {
        (vec![&column.name], vec![&reference.column])
    }
}

/// A foreign key as a table constraint (see [`reference_columns`]).
pub fn foreign_key_constraint(schema: &Schema, table: &Table, column: &Column, reference: &Reference) -> Constraint {
    let (from, to) = reference_columns(schema, table, column, reference);
    Constraint::ForeignKey {
        name: names::foreign_key(&table.name, &column.name),
        columns: owned(&from),
        table: reference.table.clone(),
        ref_columns: owned(&to),
        // PostgreSQL 15: SET NULL of only the referencing column, never the org column.
        on_delete: column.nullable.then(|| OnDelete::SetNull(vec![column.name.clone()])),
    }
}

/// Declared unique keys: single-column `#[unique]` first, then `unique(...)` lists.
pub fn unique_keys(table: &Table) -> Vec<Vec<&str>> {
    let singles = table.columns.iter().filter(|c| c.unique).map(|c| vec![c.name.as_str()]);
    let lists = table.uniques.iter().map(|u| u.iter().map(String::as_str).collect());
    singles.chain(lists).collect()
}

/// Secondary indexes: on tenant tables one per referencing column, leading with the org column
/// (the primary key `(org_id, id)` already gives every tenant table an org-leading index).
/// Skipped where a unique key already starts with the same columns.
pub fn indexes(settings: &Settings, table: &Table) -> Vec<Vec<String>> {
    let org = settings.org_column.as_str();
    let prefix: Vec<&str> = if table.is_tenant() { vec![org] } else { vec![] };
    let mut covered: Vec<Vec<&str>> =
        unique_keys(table).into_iter().map(|u| prefix.iter().copied().chain(u).collect()).collect();
    covered.extend(table.global_unique_keys());
    table
        .columns
        .iter()
        .filter(|c| c.references.is_some() && !c.key)
        .map(|c| prefix.iter().copied().chain([c.name.as_str()]).collect::<Vec<&str>>())
        .filter(|columns| !covered.iter().any(|u| u.starts_with(columns)))
        .map(|columns| columns.into_iter().map(str::to_owned).collect())
        .collect()
}

fn column_definition(column: &Column) -> ColumnDef {
    let default = match &column.default {
        Some(default) => Some(ColumnDefault::Expression(default.clone())),
        None if column.generated_key() && column.ty.is_integer() => Some(ColumnDefault::Identity),
        None if column.generated_key() => Some(ColumnDefault::Expression("gen_random_uuid()".to_owned())),
        None => None,
    };
    ColumnDef { name: column.name.clone(), ty: column.ty.sql_name(), not_null: !column.nullable, default }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_escaped() {
        assert_eq!(ident("plain"), "\"plain\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn long_object_names_stay_within_63_bytes_and_distinct() {
        let table = "t".repeat(60);
        let a = names::foreign_key(&table, "first_column");
        let b = names::foreign_key(&table, "second_column");
        assert!(a.len() <= 63 && b.len() <= 63, "{a} / {b}");
        assert_ne!(a, b);
        assert!(a.ends_with("_fkey"));
        assert_eq!(names::foreign_key("calls", "agent_id"), "calls_agent_id_fkey");
    }
}
