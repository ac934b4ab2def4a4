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

/// Column types the declaration understands, written as Rust-like names (see [`ColumnType::NAMES`]):
/// `String`, `Varchar<255>`, `Numeric<10, 2>`, `Vec<String>`, `Enum<"account_role">`, and
/// `Sql<"point">` for any other SQL type, so no column is ever dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Uuid,
    Text,
    /// `varchar` / `varchar(n)`.
    Varchar(Option<u32>),
    /// `char(n)` (`bpchar`).
    Char(u32),
    /// The `citext` extension's case-insensitive text.
    Citext,
    SmallInt,
    Int,
    BigInt,
    Real,
    Double,
    /// `numeric` / `numeric(precision, scale)`.
    Numeric(Option<(u32, u32)>),
    Bool,
    /// `json` (text as written).
    Json,
    Jsonb,
    /// `timestamp without time zone`.
    Timestamp,
    /// `timestamp with time zone`.
    Timestamptz,
    Date,
    Time,
    Interval,
    Bytes,
    Inet,
    Cidr,
    /// A one-dimensional array of the element type.
    Array(Box<ColumnType>),
    /// An enum type that exists in the database, by name (optionally schema-qualified).
    Enum(String),
    /// Any other SQL type, written verbatim (`point`, `tsvector`, `ltree`, a domain).
    Sql(String),
}

impl ColumnType {
    /// The spellings accepted in declarations: plain names, then the parameterised forms.
    pub const NAMES: &'static str = "Uuid, String, Varchar, Varchar<N>, Char<N>, Citext, i16, i32, i64, f32, f64, \
        Numeric, Numeric<P, S>, bool, Json, Jsonb, Timestamp, Timestamptz, Date, Time, Interval, Bytes, Inet, Cidr, \
        Vec<T>, Enum<\"name\">, Sql<\"any sql type\">";

    /// A type without parameters from its declared name (`String`, `i64`, `Timestamptz`).
    pub fn from_rust_name(name: &str) -> Option<ColumnType> {
        Some(match name {
            "Uuid" => ColumnType::Uuid,
            "String" => ColumnType::Text,
            "Varchar" => ColumnType::Varchar(None),
            "Citext" => ColumnType::Citext,
            "i16" => ColumnType::SmallInt,
            "i32" => ColumnType::Int,
            "i64" => ColumnType::BigInt,
            "f32" => ColumnType::Real,
            "f64" => ColumnType::Double,
            "Numeric" => ColumnType::Numeric(None),
            "bool" => ColumnType::Bool,
            "Json" => ColumnType::Json,
            "Jsonb" => ColumnType::Jsonb,
            "Timestamp" => ColumnType::Timestamp,
            "Timestamptz" => ColumnType::Timestamptz,
            "Date" => ColumnType::Date,
            "Time" => ColumnType::Time,
            "Interval" => ColumnType::Interval,
            "Bytes" => ColumnType::Bytes,
            "Inet" => ColumnType::Inet,
            "Cidr" => ColumnType::Cidr,
            _ => return None,
        })
    }

    /// How the declaration writes this type (the inverse of parsing).
    pub fn rust_name(&self) -> String {
        match self {
            ColumnType::Uuid => "Uuid".into(),
            ColumnType::Text => "String".into(),
            ColumnType::Varchar(None) => "Varchar".into(),
            ColumnType::Varchar(Some(n)) => format!("Varchar<{n}>"),
            ColumnType::Char(n) => format!("Char<{n}>"),
            ColumnType::Citext => "Citext".into(),
            ColumnType::SmallInt => "i16".into(),
            ColumnType::Int => "i32".into(),
            ColumnType::BigInt => "i64".into(),
            ColumnType::Real => "f32".into(),
            ColumnType::Double => "f64".into(),
            ColumnType::Numeric(None) => "Numeric".into(),
            ColumnType::Numeric(Some((p, s))) => format!("Numeric<{p}, {s}>"),
            ColumnType::Bool => "bool".into(),
            ColumnType::Json => "Json".into(),
            ColumnType::Jsonb => "Jsonb".into(),
            ColumnType::Timestamp => "Timestamp".into(),
            ColumnType::Timestamptz => "Timestamptz".into(),
            ColumnType::Date => "Date".into(),
            ColumnType::Time => "Time".into(),
            ColumnType::Interval => "Interval".into(),
            ColumnType::Bytes => "Bytes".into(),
            ColumnType::Inet => "Inet".into(),
            ColumnType::Cidr => "Cidr".into(),
            ColumnType::Array(element) => format!("Vec<{}>", element.rust_name()),
            ColumnType::Enum(name) => format!("Enum<{name:?}>"),
            ColumnType::Sql(sql) => format!("Sql<{sql:?}>"),
        }
    }

    /// The PostgreSQL type, as `format_type` prints it (for a type on the search path).
    pub fn sql_name(&self) -> String {
        match self {
            ColumnType::Uuid => "uuid".into(),
            ColumnType::Text => "text".into(),
            ColumnType::Varchar(None) => "character varying".into(),
            ColumnType::Varchar(Some(n)) => format!("character varying({n})"),
            ColumnType::Char(n) => format!("character({n})"),
            ColumnType::Citext => "citext".into(),
            ColumnType::SmallInt => "smallint".into(),
            ColumnType::Int => "integer".into(),
            ColumnType::BigInt => "bigint".into(),
            ColumnType::Real => "real".into(),
            ColumnType::Double => "double precision".into(),
            ColumnType::Numeric(None) => "numeric".into(),
            ColumnType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
            ColumnType::Bool => "boolean".into(),
            ColumnType::Json => "json".into(),
            ColumnType::Jsonb => "jsonb".into(),
            ColumnType::Timestamp => "timestamp without time zone".into(),
            ColumnType::Timestamptz => "timestamp with time zone".into(),
            ColumnType::Date => "date".into(),
            ColumnType::Time => "time without time zone".into(),
            ColumnType::Interval => "interval".into(),
            ColumnType::Bytes => "bytea".into(),
            ColumnType::Inet => "inet".into(),
            ColumnType::Cidr => "cidr".into(),
            ColumnType::Array(element) => format!("{}[]", element.sql_name()),
            ColumnType::Enum(name) | ColumnType::Sql(name) => name.clone(),
        }
    }

    /// Whether `format_type` output from the database names this type. A type name the search
    /// path makes visible is printed unqualified, so `basejump.account_role` matches
    /// `account_role` too; verbatim SQL types compare without case or spaces.
    pub fn matches_sql(&self, found: &str) -> bool {
        let squash = |s: &str| s.to_ascii_lowercase().replace([' ', '"'], "");
        let unqualified = |s: &str| s.rsplit_once('.').map_or(s.to_owned(), |(_, n)| n.to_owned());
        match self {
            ColumnType::Enum(name) | ColumnType::Sql(name) => {
                let (name, found) = (squash(name), squash(found));
                name == found || unqualified(&name) == unqualified(&found)
            }
            ColumnType::Array(element) => found.strip_suffix("[]").is_some_and(|inner| element.matches_sql(inner)),
            ColumnType::Citext => unqualified(found) == "citext",
            other => other.sql_name() == found,
        }
    }

    /// The type from `format_type` output, when it is one of the named types (for import).
    pub fn from_sql_name(found: &str) -> Option<ColumnType> {
        if let Some(element) = found.strip_suffix("[]") {
            return ColumnType::from_sql_name(element).map(|e| ColumnType::Array(Box::new(e)));
        }
        let params = |s: &str| -> Option<Vec<u32>> {
            let inner = s.split_once('(')?.1.strip_suffix(')')?;
            inner.split(',').map(|p| p.trim().parse().ok()).collect()
        };
        let base = found.split_once('(').map_or(found, |(b, _)| b);
        Some(match (base, params(found).as_deref()) {
            ("character varying", None) => ColumnType::Varchar(None),
            ("character varying", Some([n])) => ColumnType::Varchar(Some(*n)),
            ("character", Some([n])) => ColumnType::Char(*n),
            ("numeric", None) => ColumnType::Numeric(None),
            ("numeric", Some([p, s])) => ColumnType::Numeric(Some((*p, *s))),
            (_, Some(_)) => return None,
            ("citext", None) => ColumnType::Citext,
            (name, None) => {
                let all = [
                    ColumnType::Uuid,
                    ColumnType::Text,
                    ColumnType::SmallInt,
                    ColumnType::Int,
                    ColumnType::BigInt,
                    ColumnType::Real,
                    ColumnType::Double,
                    ColumnType::Bool,
                    ColumnType::Json,
                    ColumnType::Jsonb,
                    ColumnType::Timestamp,
                    ColumnType::Timestamptz,
                    ColumnType::Date,
                    ColumnType::Time,
                    ColumnType::Interval,
                    ColumnType::Bytes,
                    ColumnType::Inet,
                    ColumnType::Cidr,
                ];
                all.into_iter().find(|t| t.sql_name() == name)?
            }
        })
    }

    /// Whether a key column of this type can be generated by the database.
    pub fn is_integer(&self) -> bool {
        matches!(self, ColumnType::SmallInt | ColumnType::Int | ColumnType::BigInt)
    }

    /// Whether this type can be an organization key (the root's key, hence every org column and
    /// the claim): uuid, bigint, integer or text.
    pub fn is_org_key(&self) -> bool {
        matches!(self, ColumnType::Uuid | ColumnType::BigInt | ColumnType::Int | ColumnType::Text)
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
