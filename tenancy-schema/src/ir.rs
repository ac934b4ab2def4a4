//! The intermediate representation every other crate speaks.
//!
//! A `Schema` is what the declaration means once parsed and validated: table names are resolved,
//! references point at declared columns, and tenancy settings have their defaults filled in.
//! Source locations are kept for diagnostics but are not part of equality or serialization, so
//! two schemas compare equal when they describe the same database, wherever they were written.

use serde::{Deserialize, Serialize};

pub use crate::column_type::ColumnType;

/// A validated declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub settings: Settings,
    /// Tables in declaration order.
    pub tables: Vec<Table>,
    /// Enum types the declaration creates (`#[tenancy(enum)] enum Mood { Calm, Busy }`);
    /// columns use them as `Enum<"mood">`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enums: Vec<EnumType>,
}

/// A declared enum type: its SQL name and labels, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumType {
    pub name: String,
    pub labels: Vec<String>,
}

/// Workspace-level settings, written as inner attributes `#![tenancy(...)]` in the declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Name of the organization column added to every tenant table (default `org_id`).
    pub org_column: String,
    /// Where `auth_org_id()` reads the caller's organization from.
    pub claim: Claim,
    /// The role the application connects as (default `app_user`).
    pub app_role: String,
    /// Organization that legacy rows without another placement are backfilled into.
    pub default_org: Option<String>,
    /// The type of organization keys: the root table's key (uuid unless declared otherwise),
    /// so the type of every org column, of the claim and of `auth_org_id()`. Filled in by
    /// validation.
    #[serde(default = "uuid", skip_serializing_if = "is_uuid")]
    pub org_key: ColumnType,
    /// The PostgreSQL schema the declared tables live in (default `public`): migrations and
    /// conversions run with it first on the search path; scan and verify read it.
    #[serde(default = "public", skip_serializing_if = "is_public")]
    pub schema: String,
}

fn public() -> String {
    "public".to_owned()
}

fn is_public(schema: &str) -> bool {
    schema == "public"
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn uuid() -> ColumnType {
    ColumnType::Uuid
}

fn is_uuid(ty: &ColumnType) -> bool {
    *ty == ColumnType::Uuid
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            org_column: "org_id".to_owned(),
            claim: Claim::Setting("app.org_id".to_owned()),
            app_role: "app_user".to_owned(),
            default_org: None,
            org_key: ColumnType::Uuid,
            schema: "public".to_owned(),
        }
    }
}

/// The source of the organization claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// A transaction-local setting, e.g. `app.org_id`, set with `set_config(name, value, true)`.
    Setting(String),
    /// PostgREST / Supabase: `request.jwt.claims` → `app_metadata.org_id`. Never `user_metadata`,
    /// which end users can edit.
    Postgrest,
    /// A signed token in this transaction-local setting: `<org>.<expiry>.<key id>.<HMAC-SHA256>`
    /// under a key only `auth_org_id()`'s owner can read. SQL that rewrites the setting (an
    /// injection) cannot name another organization without the key.
    Signed(String),
}

impl Claim {
    /// The setting the claim travels in.
    pub fn setting(&self) -> &str {
        match self {
            Claim::Setting(name) | Claim::Signed(name) => name,
            Claim::Postgrest => "request.jwt.claims",
        }
    }

    pub fn is_signed(&self) -> bool {
        matches!(self, Claim::Signed(_))
    }
}

/// The setting of `claim = signed` unless named: `claim = signed("...")`.
pub const SIGNED_CLAIM_SETTING: &str = "app.org_token";

/// How a table relates to organizations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The organizations table itself. Exactly one per schema.
    Root,
    /// Every row belongs to one organization; gets the org column, RLS and the trigger.
    Tenant,
    /// Shared by all organizations; read-only to the app role. For reference data (plans,
    /// countries), never for rows that belong to people or organizations.
    Global,
    /// Rows shared across organizations, each visible to an organization only through a
    /// declared link ([`Table::link`]): `users`, seen by the organizations they are members
    /// of through `user_organizations`. Read-only to the app role.
    Shared,
    /// Not for the application at all: the app role has no privilege on it (platform staff,
    /// audit trails, billing internals), read and written by other roles.
    Internal,
}

impl Scope {
    /// As the declaration writes it: `root`, `tenant`, `global`, `shared`, `internal`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Root => "root",
            Scope::Tenant => "tenant",
            Scope::Global => "global",
            Scope::Shared => "shared",
            Scope::Internal => "internal",
        }
    }

    /// Whether rows belong to organizations (root, tenant, shared): row-level security decides
    /// which the app role sees.
    pub fn is_isolated(self) -> bool {
        matches!(self, Scope::Root | Scope::Tenant | Scope::Shared)
    }
}

/// How a shared table's rows are linked to organizations: a tenant table and its column that
/// references the shared table's key. A row is visible to the organizations that have a link row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub table: String,
    pub column: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Table {
    /// SQL name of the table.
    pub name: String,
    /// Its PostgreSQL schema when not the declaration's (`#[tenancy(tenant, schema = "billing")]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Rust name of the row struct (the declaration's struct name).
    pub struct_name: String,
    pub scope: Scope,
    /// Declared columns, in order. The org column of tenant tables is implicit and not listed.
    pub columns: Vec<Column>,
    /// Declared unique keys (column names), without the org column; tenant tables get it prefixed.
    pub uniques: Vec<Vec<String>>,
    /// How legacy rows of this table find their organization.
    pub backfill: Option<Backfill>,
    /// What the conversion does with rows naming an organization that does not exist
    /// (`#[backfill(..., missing_org = "reassign")]`); unless declared, they stop it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_org: Option<MissingOrg>,
    /// Shared tables: the link that makes a row visible to an organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    #[serde(skip)]
    pub span: Span,
    /// Where each unique key was written (first column), parallel to `uniques`.
    #[serde(skip)]
    pub unique_spans: Vec<Span>,
    /// Unique keys that hold across organizations (`unique_global(a, b)`): a login email, an
    /// invitation token. Tenant tables only; the database refuses a second organization's
    /// equal value, so each one is an existence oracle by design (scan and verify say so).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global_uniques: Vec<Vec<String>>,
    /// Parallel to `global_uniques`.
    #[serde(skip)]
    pub global_unique_spans: Vec<Span>,
    /// Unique keys on an expression: `unique(expr = "lower(email)")` (per organization on a
    /// tenant table) or `unique_global(expr = "...")`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique_expressions: Vec<UniqueExpression>,
}

/// A unique key on an SQL expression, written verbatim by the declaration's author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniqueExpression {
    pub sql: String,
    /// Across organizations (tenant tables; the existence oracle of `unique_global`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub global: bool,
}

impl UniqueExpression {
    /// Whether `printed` (as `pg_get_indexdef` prints an index expression) is this expression:
    /// compared without spaces, quotes, parentheses and `::text` casts.
    pub fn matches(&self, printed: &str) -> bool {
        let norm = |s: &str| {
            s.to_ascii_lowercase()
                .replace("::text", "")
                .replace("::charactervarying", "")
                .chars()
                .filter(|c| !matches!(c, ' ' | '"' | '(' | ')'))
                .collect::<String>()
        };
        norm(&self.sql) == norm(printed)
    }
}

impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        self.name == other.name
            && self.schema == other.schema
            && self.struct_name == other.struct_name
            && self.scope == other.scope
            && self.columns == other.columns
            && self.uniques == other.uniques
            && self.global_uniques == other.global_uniques
            && self.unique_expressions == other.unique_expressions
            && self.backfill == other.backfill
            && self.missing_org == other.missing_org
            && self.link == other.link
    }
}
impl Eq for Table {}

impl Table {
    /// The key column of a table keyed by one column: the root's (what claims carry), a shared
    /// table's (what its link points at), any table a reference points at by its key. Tables
    /// that may have a key of several columns (tenant, global, internal) use [`Table::keys`].
    pub fn key(&self) -> &Column {
        self.columns.iter().find(|c| c.key).expect("validated tables have a key column")
    }

    /// The declared key columns, in declaration order (one or more, checked by validation). A
    /// tenant table's primary key is the org column followed by these.
    pub fn keys(&self) -> Vec<&Column> {
        self.columns.iter().filter(|c| c.key).collect()
    }

    /// The names of [`Table::keys`].
    pub fn key_names(&self) -> Vec<&str> {
        self.columns.iter().filter(|c| c.key).map(|c| c.name.as_str()).collect()
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn is_tenant(&self) -> bool {
        self.scope == Scope::Tenant
    }

    /// Whether `columns` are declared unique across organizations (`#[unique(global)]` or
    /// `unique_global(...)`).
    pub fn is_global_unique(&self, columns: &[&str]) -> bool {
        self.global_unique_keys().iter().any(|u| u.as_slice() == columns)
    }

    /// Unique keys declared to hold across organizations: `#[unique(global)]` columns, then
    /// `unique_global(...)` lists.
    pub fn global_unique_keys(&self) -> Vec<Vec<&str>> {
        let singles = self.columns.iter().filter(|c| c.global_unique).map(|c| vec![c.name.as_str()]);
        singles.chain(self.global_uniques.iter().map(|u| u.iter().map(String::as_str).collect())).collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub nullable: bool,
    /// Part of the primary key (tenant tables: the key becomes `(org_id, key)`).
    pub key: bool,
    /// A single-column unique key (org-scoped on tenant tables).
    pub unique: bool,
    /// `#[unique(global)]`: unique across organizations (tenant tables).
    #[serde(default, skip_serializing_if = "is_false")]
    pub global_unique: bool,
    pub references: Option<Reference>,
    /// A SQL default expression, written verbatim by the declaration author.
    pub default: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

impl Column {
    /// Whether the database makes this key column's value when an insert leaves it out: a key
    /// column that references nothing, integer (identity) or uuid (a random one).
    pub fn generated_key(&self) -> bool {
        self.key && self.references.is_none() && (self.ty.is_integer() || self.ty == ColumnType::Uuid)
    }
}

impl PartialEq for Column {
    fn eq(&self, other: &Column) -> bool {
        self.name == other.name
            && self.ty == other.ty
            && self.nullable == other.nullable
            && self.key == other.key
            && self.unique == other.unique
            && self.global_unique == other.global_unique
            && self.references == other.references
            && self.default == other.default
    }
}
impl Eq for Column {}

/// A foreign key from one column to a key or unique column of another table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub table: String,
    pub column: String,
}

/// How legacy rows of a tenant table find their organization (used when converting a database).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backfill {
    /// Every legacy row goes to the workspace's default organization.
    DefaultOrg,
    /// `column -> table.target`: look the organization up through another table.
    Via { column: String, table: String, target: String },
    /// Take the organization of the parent row referenced by this column.
    FromParent { column: String },
    /// An explicit SQL expression evaluated per row.
    Sql(String),
}

/// Rows of a legacy table whose organization does not exist (a deleted one, a typo): the
/// conversion stops with their count and keys unless the declaration says what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingOrg {
    /// Placed by the table's backfill strategy like rows without an organization (logged with
    /// their keys).
    Reassign,
    /// Deleted before the backfill (logged with their keys; revert does not bring them back).
    Delete,
}

/// A location in a declaration file: 1-based line, 1-based column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn root(&self) -> &Table {
        self.tables.iter().find(|t| t.scope == Scope::Root).expect("validated schemas have a root")
    }

    /// Tables ordered so that every referenced table comes before the tables referencing it
    /// (validation rejects cycles of required references; optional self- or back-references are
    /// ignored for ordering because they can be filled later).
    pub fn tables_in_dependency_order(&self) -> Vec<&Table> {
        let mut done: Vec<&str> = Vec::new();
        let mut ordered = Vec::new();
        let mut remaining: Vec<&Table> = self.tables.iter().collect();
        while !remaining.is_empty() {
            let before = remaining.len();
            remaining.retain(|table| {
                // Tenant tables also depend on the root through their implicit org column.
                let root_ready = table.scope != Scope::Tenant
                    || self.tables.iter().any(|t| t.scope == Scope::Root && done.contains(&t.name.as_str()));
                let ready = root_ready
                    && table
                        .columns
                        .iter()
                        .filter_map(|c| c.references.as_ref())
                        .all(|r| r.table == table.name || done.contains(&r.table.as_str()));
                if ready {
                    done.push(&table.name);
                    ordered.push(*table);
                }
                !ready
            });
            if remaining.len() == before {
                // Only optional references are left in a cycle; break it in declaration order.
                let table = remaining.remove(0);
                done.push(&table.name);
                ordered.push(table);
            }
        }
        ordered
    }
}
