//! The rows of the catalog queries as plain data: PostgreSQL's one-letter codes read into enums.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub database: String,
    pub server_version: String,
    pub role: String,
    pub superuser: bool,
    pub bypass_rls: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    /// Its schema (the catalog reads one or several).
    #[serde(default)]
    pub schema: String,
    pub owner: String,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    pub estimated_rows: i64,
    /// Whether the scanning role may SELECT from it (data checks need that).
    pub readable: bool,
    /// Whether the app role owns the table or inherits its owner's privileges; None if it does not exist.
    pub app_role_owns: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Column {
    pub table: String,
    pub name: String,
    pub position: i16,
    #[serde(rename = "type")]
    pub ty: String,
    pub not_null: bool,
    pub default: Option<String>,
}

/// `contype` (the kinds the catalog query reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConstraintKind {
    #[serde(rename = "p")]
    PrimaryKey,
    #[serde(rename = "u")]
    Unique,
    #[serde(rename = "f")]
    ForeignKey,
}

/// `confdeltype`: what deleting the referenced row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FkAction {
    #[serde(rename = "a")]
    NoAction,
    #[serde(rename = "r")]
    Restrict,
    #[serde(rename = "c")]
    Cascade,
    #[serde(rename = "n")]
    SetNull,
    #[serde(rename = "d")]
    SetDefault,
}

impl FkAction {
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Constraint {
    pub table: String,
    pub name: String,
    pub kind: ConstraintKind,
    /// Named by `Catalog::new` from `column_numbers`.
    #[serde(default)]
    pub columns: Vec<String>,
    /// `conkey`, as the query reads it.
    #[serde(default)]
    pub column_numbers: Vec<i16>,
    pub ref_table: Option<String>,
    /// The schema of `ref_table` (a reference can leave the scanned schema: `auth.users`).
    #[serde(default)]
    pub ref_schema: Option<String>,
    /// Named by the query for a table in another schema, else by `Catalog::new` from
    /// `ref_column_numbers`.
    #[serde(default)]
    pub ref_columns: Vec<String>,
    /// `confkey`, as the query reads it.
    #[serde(default)]
    pub ref_column_numbers: Vec<i16>,
    /// Foreign keys only.
    pub on_delete: Option<FkAction>,
    pub validated: bool,
}

impl Constraint {
    /// Whether this is the foreign key `(columns) REFERENCES table (ref_columns)`.
    pub fn is_foreign_key(&self, columns: &[&str], table: &str, ref_columns: &[&str]) -> bool {
        self.kind == ConstraintKind::ForeignKey
            && self.columns.iter().map(String::as_str).eq(columns.iter().copied())
            && self.ref_table.as_deref() == Some(table)
            && self.ref_columns.iter().map(String::as_str).eq(ref_columns.iter().copied())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Index {
    pub table: String,
    pub name: String,
    pub unique: bool,
    pub primary: bool,
    pub valid: bool,
    pub partial: bool,
    /// Key columns in order; an expression in parentheses, as `pg_get_indexdef` prints it:
    /// `(lower(email))`. Named by `Catalog::new` from `column_numbers` and `expressions`.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The key columns' numbers (`indkey`), 0 for an expression.
    #[serde(default)]
    pub column_numbers: Vec<i16>,
    /// Where `column_numbers` is 0, the expression; empty when there is none.
    #[serde(default)]
    pub expressions: Vec<Option<String>>,
}

/// `polcmd`: the command a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyCommand {
    #[serde(rename = "r")]
    Select,
    #[serde(rename = "a")]
    Insert,
    #[serde(rename = "w")]
    Update,
    #[serde(rename = "d")]
    Delete,
    #[serde(rename = "*")]
    All,
}

impl PolicyCommand {
    /// As written after `FOR`.
    pub fn sql(self) -> &'static str {
        match self {
            PolicyCommand::Select => "SELECT",
            PolicyCommand::Insert => "INSERT",
            PolicyCommand::Update => "UPDATE",
            PolicyCommand::Delete => "DELETE",
            PolicyCommand::All => "ALL",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    pub table: String,
    pub name: String,
    pub command: PolicyCommand,
    pub permissive: bool,
    /// Role names; `public` for PUBLIC.
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
}

/// `tgenabled`: when a trigger fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TriggerEnabled {
    /// In origin and local sessions (the default).
    #[serde(rename = "O")]
    Origin,
    #[serde(rename = "D")]
    Disabled,
    #[serde(rename = "R")]
    Replica,
    #[serde(rename = "A")]
    Always,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trigger {
    pub table: String,
    pub name: String,
    /// `tgtype` bits: 1 ROW, 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE, 64 INSTEAD.
    #[serde(rename = "type")]
    pub ty: i32,
    pub enabled: TriggerEnabled,
    pub function: String,
    pub function_source: String,
    /// Whether the trigger function is SECURITY DEFINER.
    #[serde(default)]
    pub function_definer: bool,
    /// `UPDATE OF` columns, by name; empty when the trigger fires on any update. Named by
    /// `Catalog::new` from `column_numbers`.
    #[serde(default)]
    pub columns: Vec<String>,
    /// `tgattr`, as the query reads it.
    #[serde(default)]
    pub column_numbers: Vec<i16>,
}

/// `provolatile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Volatility {
    #[serde(rename = "i")]
    Immutable,
    #[serde(rename = "s")]
    Stable,
    #[serde(rename = "v")]
    Volatile,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub arguments: String,
    pub volatility: Volatility,
    pub security_definer: bool,
    pub config: Vec<String>,
    pub source: String,
    pub language: String,
    pub returns_trigger: bool,
    pub app_role_can_execute: Option<bool>,
}

/// `relkind` of a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewKind {
    #[serde(rename = "v")]
    View,
    #[serde(rename = "m")]
    Materialized,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct View {
    pub name: String,
    pub kind: ViewKind,
    pub options: Vec<String>,
    /// Tables of the same schema the view reads.
    pub tables: Vec<String>,
    pub app_role_can_select: Option<bool>,
}

impl View {
    /// Whether `security_invoker` is on (`reloptions` as PostgreSQL accepts booleans).
    pub fn security_invoker(&self) -> bool {
        self.options.iter().any(|o| {
            o.split_once('=').is_some_and(|(k, v)| {
                k == "security_invoker" && matches!(v.to_ascii_lowercase().as_str(), "true" | "on" | "1" | "yes")
            })
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub superuser: bool,
    pub bypass_rls: bool,
    pub inherit: bool,
}

/// What kind of object a [`Grant`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    Table,
    Schema,
    Database,
    /// The signed claim's key table (`tenancy_private.claim_keys`), when it exists.
    ClaimKeys,
    /// A role the app role is a member of; `privileges` are its dangerous attributes
    /// (`SUPERUSER`, `BYPASSRLS`, `OWNS TABLES`).
    MemberOf,
    /// Defaults a session gets at login (`ALTER ROLE ... SET`, `ALTER DATABASE ... SET`) for
    /// the app role, a role that can become it, or this database: `name` is `<role> in
    /// <database>` (`*` for any), `privileges` the `setting=value` entries.
    RoleSetting,
}

/// What the app role may do with one object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub kind: GrantKind,
    pub name: String,
    pub privileges: Vec<String>,
}

impl Grant {
    pub fn has(&self, privilege: &str) -> bool {
        self.privileges.iter().any(|p| p == privilege)
    }
}

/// What a catalog query's `$2` filter matches in one of its rows: its table, else its own name.
pub trait Object {
    fn object(&self) -> &str;
}

macro_rules! object {
    ($field:ident: $($fact:ty),*) => {
        $(impl Object for $fact {
            fn object(&self) -> &str {
                &self.$field
            }
        })*
    };
}

object!(table: Column, Constraint, Index, Policy, Trigger);
object!(name: Table, Function, View, Role, Grant);

impl Object for Session {
    fn object(&self) -> &str {
        ""
    }
}
