//! The intermediate representation every other crate speaks.
//!
//! A `Schema` is what the declaration means once parsed and validated: table names are resolved,
//! references point at declared columns, and tenancy settings have their defaults filled in.
//! Source locations are kept for diagnostics but are not part of equality or serialization, so
//! two schemas compare equal when they describe the same database, wherever they were written.

use serde::{Deserialize, Serialize};

/// A validated declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub settings: Settings,
    /// Tables in declaration order.
    pub tables: Vec<Table>,
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
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            org_column: "org_id".to_owned(),
            claim: Claim::Setting("app.org_id".to_owned()),
            app_role: "app_user".to_owned(),
            default_org: None,
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
    /// Rust name of the row struct (the declaration's struct name).
    pub struct_name: String,
    pub scope: Scope,
    /// Declared columns, in order. The org column of tenant tables is implicit and not listed.
    pub columns: Vec<Column>,
    /// Declared unique keys (column names), without the org column; tenant tables get it prefixed.
    pub uniques: Vec<Vec<String>>,
    /// How legacy rows of this table find their organization.
    pub backfill: Option<Backfill>,
    /// Shared tables: the link that makes a row visible to an organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    #[serde(skip)]
    pub span: Span,
    /// Where each unique key was written (first column), parallel to `uniques`.
    #[serde(skip)]
    pub unique_spans: Vec<Span>,
}

impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        self.name == other.name
            && self.struct_name == other.struct_name
            && self.scope == other.scope
            && self.columns == other.columns
            && self.uniques == other.uniques
            && self.backfill == other.backfill
            && self.link == other.link
    }
}
impl Eq for Table {}

impl Table {
    /// The declared key column (exactly one per table, checked by validation).
    pub fn key(&self) -> &Column {
        self.columns.iter().find(|c| c.key).expect("validated tables have a key column")
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn is_tenant(&self) -> bool {
        self.scope == Scope::Tenant
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
    pub references: Option<Reference>,
    /// A SQL default expression, written verbatim by the declaration author.
    pub default: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

impl PartialEq for Column {
    fn eq(&self, other: &Column) -> bool {
        self.name == other.name
            && self.ty == other.ty
            && self.nullable == other.nullable
            && self.key == other.key
            && self.unique == other.unique
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

/// Column types the declaration understands, named as in Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Uuid,
    Text,
    SmallInt,
    Int,
    BigInt,
    Real,
    Double,
    Bool,
    Json,
    Timestamp,
    Date,
    Bytes,
}

impl ColumnType {
    /// The Rust spelling accepted in declarations, e.g. `String` for `Text`.
    pub const ALL: [(&'static str, ColumnType); 12] = [
        ("Uuid", ColumnType::Uuid),
        ("String", ColumnType::Text),
        ("i16", ColumnType::SmallInt),
        ("i32", ColumnType::Int),
        ("i64", ColumnType::BigInt),
        ("f32", ColumnType::Real),
        ("f64", ColumnType::Double),
        ("bool", ColumnType::Bool),
        ("Json", ColumnType::Json),
        ("Timestamp", ColumnType::Timestamp),
        ("Date", ColumnType::Date),
        ("Bytes", ColumnType::Bytes),
    ];

    pub fn from_rust_name(name: &str) -> Option<ColumnType> {
        ColumnType::ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// The PostgreSQL type name, as `format_type` prints it.
    pub fn sql_name(self) -> &'static str {
        match self {
            ColumnType::Uuid => "uuid",
            ColumnType::Text => "text",
            ColumnType::SmallInt => "smallint",
            ColumnType::Int => "integer",
            ColumnType::BigInt => "bigint",
            ColumnType::Real => "real",
            ColumnType::Double => "double precision",
            ColumnType::Bool => "boolean",
            ColumnType::Json => "jsonb",
            ColumnType::Timestamp => "timestamp with time zone",
            ColumnType::Date => "date",
            ColumnType::Bytes => "bytea",
        }
    }

    /// Whether a key column of this type can be generated by the database.
    pub fn is_integer(self) -> bool {
        matches!(self, ColumnType::SmallInt | ColumnType::Int | ColumnType::BigInt)
    }
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
