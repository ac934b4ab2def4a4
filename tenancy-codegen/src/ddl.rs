//! The typed statements both planners emit (in the spirit of diesel's `SchemaDiff`): each knows
//! how it is written ([`Display`](std::fmt::Display); `{:#}` writes a policy on one line), the
//! lock it takes ([`Ddl::lock`]) and, where the statement alone decides it, what undoes it
//! ([`Ddl::undo`]). Planners build statements and choose among them by variant; nothing sorts or
//! parses SQL text. Every identifier is written through [`ident`], every value through [`literal`].

use crate::sql::{ident, literal};
use std::fmt::{self, Display, Formatter};

/// One SQL statement (or a guarded group of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ddl {
    /// Creates the app role unless it exists; refuses one that would bypass row-level security.
    EnsureAppRole {
        role: String,
    },
    GrantSchemaUsage {
        schema: String,
        role: String,
    },
    RevokeSchemaUsage {
        schema: String,
        role: String,
    },
    CreateFunction(Function),
    DropFunction {
        function: FunctionRef,
        if_exists: bool,
    },
    GrantExecute {
        function: FunctionRef,
        to: Vec<Grantee>,
    },
    RevokeExecute {
        function: FunctionRef,
        from: Vec<Grantee>,
    },
    CreateTable {
        table: String,
        elements: Vec<Element>,
    },
    DropTables {
        tables: Vec<String>,
        if_exists: bool,
    },
    AddColumn {
        table: String,
        column: ColumnDef,
        if_not_exists: bool,
    },
    DropColumn {
        table: String,
        column: String,
        if_exists: bool,
    },
    /// `SET DEFAULT expression`, or `DROP DEFAULT` for `None`.
    SetDefault {
        table: String,
        column: String,
        default: Option<String>,
    },
    SetNotNull {
        table: String,
        column: String,
    },
    DropNotNull {
        table: String,
        column: String,
    },
    AddConstraint {
        table: String,
        constraint: Constraint,
        not_valid: bool,
    },
    ValidateConstraint {
        table: String,
        name: String,
        kind: Validate,
    },
    DropConstraint {
        table: String,
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    RenameConstraint {
        table: String,
        from: String,
        to: String,
    },
    /// One statement: the old primary key goes and the index becomes the new one.
    ReplacePrimaryKey {
        table: String,
        drop: Option<String>,
        name: String,
        index: String,
    },
    CreateIndex {
        name: String,
        table: String,
        columns: Vec<String>,
        unique: bool,
        concurrently: bool,
        if_not_exists: bool,
    },
    DropIndex {
        name: String,
        concurrently: bool,
        if_exists: bool,
    },
    EnableRls {
        table: String,
    },
    DisableRls {
        table: String,
    },
    ForceRls {
        table: String,
    },
    NoForceRls {
        table: String,
    },
    CreatePolicy(Policy),
    DropPolicy {
        name: String,
        table: String,
        if_exists: bool,
    },
    /// A `BEFORE UPDATE OF column ... FOR EACH ROW` trigger.
    CreateTrigger {
        name: String,
        table: String,
        update_of: String,
        function: String,
    },
    DropTrigger {
        name: String,
        table: String,
        if_exists: bool,
    },
    Grant {
        privileges: Vec<Privilege>,
        table: String,
        role: String,
    },
    Revoke {
        privileges: Vec<Privilege>,
        table: String,
        role: String,
    },
    SetOwner {
        table: String,
        owner: Owner,
    },
    /// `security_invoker = true`, or `RESET (security_invoker)` for false.
    ViewSecurityInvoker {
        view: String,
        on: bool,
    },
    /// `INSERT ... ON CONFLICT DO NOTHING` of one row; `values` are SQL expressions.
    InsertIfMissing {
        table: String,
        columns: Vec<String>,
        values: Vec<String>,
    },
    /// An `UPDATE` of rows with no (known) organization (a conversion's backfill as one statement).
    Backfill {
        sql: String,
    },
    /// diesel's `__diesel_schema_migrations`, as diesel creates it.
    CreateMigrationsTable,
    RecordMigrations {
        versions: Vec<String>,
    },
    ForgetMigrations {
        versions: Vec<String>,
    },
    /// A definition read back from the database (`pg_get_functiondef`), restored as it was.
    Restore {
        definition: String,
    },
    /// `statement` only when `condition` holds: for down files that must work on a partly
    /// applied (or partly reverted) step.
    Guarded {
        condition: Condition,
        statement: Box<Ddl>,
    },
    /// Several statements that belong together, one per line.
    Sequence(Vec<Ddl>),
    Comment(String),
}

/// A function tenancy creates: `CREATE FUNCTION name() RETURNS returns LANGUAGE language ...
/// SET search_path = pg_catalog, pg_temp AS $tenancy$body$tenancy$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub or_replace: bool,
    pub returns: &'static str,
    /// The language and its attributes: `sql STABLE PARALLEL SAFE`.
    pub language: &'static str,
    pub body: String,
}

/// A function by name and identity arguments (as `pg_get_function_identity_arguments` prints them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    Public,
    Role(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Privilege {
    Select,
    Insert,
    Update,
    Delete,
    Truncate,
}

impl Privilege {
    pub const ALL: [Privilege; 5] =
        [Privilege::Select, Privilege::Insert, Privilege::Update, Privilege::Delete, Privilege::Truncate];

    pub fn sql(self) -> &'static str {
        match self {
            Privilege::Select => "SELECT",
            Privilege::Insert => "INSERT",
            Privilege::Update => "UPDATE",
            Privilege::Delete => "DELETE",
            Privilege::Truncate => "TRUNCATE",
        }
    }

    pub fn from_sql(keyword: &str) -> Option<Privilege> {
        Privilege::ALL.into_iter().find(|p| p.sql() == keyword)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    CurrentUser,
    Role(String),
}

/// A column of `CREATE TABLE` or `ADD COLUMN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: String,
    pub not_null: bool,
    pub default: Option<ColumnDefault>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnDefault {
    Expression(String),
    Identity,
}

/// An element of `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    Column(ColumnDef),
    Constraint(Constraint),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    PrimaryKey {
        name: String,
        columns: Vec<String>,
    },
    Unique {
        name: String,
        columns: Vec<String>,
    },
    UniqueUsingIndex {
        name: String,
        index: String,
    },
    ForeignKey {
        name: String,
        columns: Vec<String>,
        table: String,
        ref_columns: Vec<String>,
        on_delete: Option<OnDelete>,
    },
    /// `CHECK (column IS NOT NULL)`.
    NotNull {
        name: String,
        column: String,
    },
    /// A legacy constraint restored from `pg_get_constraintdef`.
    Definition {
        name: String,
        definition: String,
    },
}

impl Constraint {
    pub fn name(&self) -> &str {
        match self {
            Constraint::PrimaryKey { name, .. }
            | Constraint::Unique { name, .. }
            | Constraint::UniqueUsingIndex { name, .. }
            | Constraint::ForeignKey { name, .. }
            | Constraint::NotNull { name, .. }
            | Constraint::Definition { name, .. } => name,
        }
    }

    /// The table a foreign key points at.
    pub fn references(&self) -> Option<&str> {
        match self {
            Constraint::ForeignKey { table, .. } => Some(table),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnDelete {
    Cascade,
    /// PostgreSQL 15: only these columns (never the org column).
    SetNull(Vec<String>),
}

/// What `VALIDATE CONSTRAINT` reads, for its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validate {
    Check,
    ForeignKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub table: String,
    pub permissive: bool,
    /// `ALL`, `SELECT`, ...
    pub command: &'static str,
    pub roles: Vec<Grantee>,
    pub using: Option<String>,
    pub with_check: Option<String>,
}

/// A catalog fact a [`Ddl::Guarded`] statement depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    ConstraintExists { table: String, name: String },
    PolicyExists { table: String, name: String },
    Not(Box<Condition>),
}

/// Lock levels, as the dry run and the comments of conversion files name them.
pub mod lock {
    pub const BRIEF: &str = "ACCESS EXCLUSIVE (brief, no table scan)";
    pub const VALIDATE: &str = "SHARE UPDATE EXCLUSIVE (reads and writes continue)";
    pub const FK_ADD: &str = "SHARE ROW EXCLUSIVE on both tables (brief, NOT VALID: no scan)";
    pub const FK_VALIDATE: &str = "SHARE UPDATE EXCLUSIVE + ROW SHARE on the parent (reads and writes continue)";
    pub const CONCURRENTLY: &str = "SHARE UPDATE EXCLUSIVE (CONCURRENTLY: reads and writes continue)";
    pub const NONE: &str = "none (catalog only)";
    pub const TRIGGER: &str = "SHARE ROW EXCLUSIVE (brief)";
    pub const BATCH: &str = "ROW EXCLUSIVE, row locks of one batch at a time";
    pub const NOT_NULL: &str = "ACCESS EXCLUSIVE (brief: the validated check proves it, no scan)";
    pub const ONE_ROW: &str = "ROW EXCLUSIVE (one row)";
    pub const BOOKKEEPING: &str = "ROW EXCLUSIVE (bookkeeping)";
    pub const TABLE_WRITE: &str = "SHARE (blocks writes while the index builds)";
}

impl Ddl {
    /// The lock the statement takes on the tables it touches, in words.
    pub fn lock(&self) -> &'static str {
        match self {
            Ddl::EnsureAppRole { .. }
            | Ddl::GrantSchemaUsage { .. }
            | Ddl::RevokeSchemaUsage { .. }
            | Ddl::CreateFunction(_)
            | Ddl::DropFunction { .. }
            | Ddl::GrantExecute { .. }
            | Ddl::RevokeExecute { .. }
            | Ddl::CreateTable { .. }
            | Ddl::Grant { .. }
            | Ddl::Revoke { .. }
            | Ddl::CreateMigrationsTable
            | Ddl::Restore { .. }
            | Ddl::Guarded { .. }
            | Ddl::Comment(_) => lock::NONE,
            Ddl::DropTables { .. }
            | Ddl::AddColumn { .. }
            | Ddl::DropColumn { .. }
            | Ddl::SetDefault { .. }
            | Ddl::DropNotNull { .. }
            | Ddl::DropConstraint { .. }
            | Ddl::RenameConstraint { .. }
            | Ddl::ReplacePrimaryKey { .. }
            | Ddl::EnableRls { .. }
            | Ddl::DisableRls { .. }
            | Ddl::ForceRls { .. }
            | Ddl::NoForceRls { .. }
            | Ddl::CreatePolicy(_)
            | Ddl::DropPolicy { .. }
            | Ddl::DropTrigger { .. }
            | Ddl::SetOwner { .. }
            | Ddl::ViewSecurityInvoker { .. } => lock::BRIEF,
            Ddl::AddConstraint { constraint: Constraint::ForeignKey { .. }, not_valid: true, .. } => lock::FK_ADD,
            Ddl::AddConstraint { .. } => lock::BRIEF,
            Ddl::ValidateConstraint { kind: Validate::Check, .. } => lock::VALIDATE,
            Ddl::ValidateConstraint { kind: Validate::ForeignKey, .. } => lock::FK_VALIDATE,
            Ddl::SetNotNull { .. } => lock::NOT_NULL,
            Ddl::CreateIndex { concurrently: true, .. } | Ddl::DropIndex { concurrently: true, .. } => {
                lock::CONCURRENTLY
            }
            Ddl::CreateIndex { .. } => lock::TABLE_WRITE,
            Ddl::DropIndex { .. } => lock::BRIEF,
            Ddl::CreateTrigger { .. } => lock::TRIGGER,
            Ddl::InsertIfMissing { .. } => lock::ONE_ROW,
            Ddl::Backfill { .. } => lock::BATCH,
            Ddl::RecordMigrations { .. } | Ddl::ForgetMigrations { .. } => lock::BOOKKEEPING,
            Ddl::Sequence(statements) => statements.first().map_or(lock::NONE, Ddl::lock),
        }
    }

    /// The statement that undoes this one, when the statement alone decides it (idempotent:
    /// `IF EXISTS` wherever PostgreSQL has it). `None` where undoing needs what was there
    /// before (a definition, an owner, a default), which the planner knows.
    pub fn undo(&self) -> Option<Ddl> {
        Some(match self {
            Ddl::AddColumn { table, column, .. } => {
                Ddl::DropColumn { table: table.clone(), column: column.name.clone(), if_exists: true }
            }
            Ddl::SetNotNull { table, column } => Ddl::DropNotNull { table: table.clone(), column: column.clone() },
            Ddl::AddConstraint { table, constraint, .. } => Ddl::DropConstraint {
                table: table.clone(),
                name: constraint.name().to_owned(),
                if_exists: true,
                cascade: false,
            },
            Ddl::CreateIndex { name, concurrently, .. } => {
                Ddl::DropIndex { name: name.clone(), concurrently: *concurrently, if_exists: true }
            }
            Ddl::EnableRls { table } => Ddl::DisableRls { table: table.clone() },
            Ddl::ForceRls { table } => Ddl::NoForceRls { table: table.clone() },
            Ddl::CreatePolicy(policy) => {
                Ddl::DropPolicy { name: policy.name.clone(), table: policy.table.clone(), if_exists: true }
            }
            Ddl::CreateTrigger { name, table, .. } => {
                Ddl::DropTrigger { name: name.clone(), table: table.clone(), if_exists: true }
            }
            Ddl::CreateFunction(function) => Ddl::DropFunction {
                function: FunctionRef { name: function.name.clone(), arguments: String::new() },
                if_exists: true,
            },
            Ddl::Grant { privileges, table, role } => {
                Ddl::Revoke { privileges: privileges.clone(), table: table.clone(), role: role.clone() }
            }
            Ddl::Revoke { privileges, table, role } => {
                Ddl::Grant { privileges: privileges.clone(), table: table.clone(), role: role.clone() }
            }
            Ddl::ViewSecurityInvoker { view, on } => Ddl::ViewSecurityInvoker { view: view.clone(), on: !on },
            Ddl::RecordMigrations { versions } => Ddl::ForgetMigrations { versions: versions.clone() },
            _ => return None,
        })
    }
}

fn idents(names: &[String]) -> String {
    names.iter().map(|n| ident(n)).collect::<Vec<_>>().join(", ")
}

fn list<T: Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn if_exists(yes: bool) -> &'static str {
    if yes { " IF EXISTS" } else { "" }
}

impl Display for Ddl {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Ddl::EnsureAppRole { role } => write!(
                f,
                "DO $tenancy$\n\
                 BEGIN\n\
                 \x20 IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {name}) THEN\n\
                 \x20   CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;\n\
                 \x20 ELSIF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {name} AND (rolsuper OR rolbypassrls)) THEN\n\
                 \x20   RAISE EXCEPTION 'app role % is SUPERUSER or BYPASSRLS, so row-level security would not apply to it', {name}\n\
                 \x20     USING HINT = 'run ALTER ROLE ' || quote_ident({name}) || ' NOSUPERUSER NOBYPASSRLS, or set another app_role';\n\
                 \x20 END IF;\n\
                 END\n\
                 $tenancy$;",
                name = literal(role),
                role = ident(role),
            ),
            Ddl::GrantSchemaUsage { schema, role } => {
                write!(f, "GRANT USAGE ON SCHEMA {} TO {};", ident_or_public(schema), ident(role))
            }
            Ddl::RevokeSchemaUsage { schema, role } => {
                write!(f, "REVOKE USAGE ON SCHEMA {} FROM {};", ident_or_public(schema), ident(role))
            }
            Ddl::CreateFunction(Function { name, or_replace, returns, language, body }) => write!(
                f,
                "CREATE {replace}FUNCTION {name}() RETURNS {returns}\n\
                 \x20 LANGUAGE {language}\n\
                 \x20 SET search_path = pg_catalog, pg_temp\n\
                 \x20 AS $tenancy${body}$tenancy$;",
                name = ident(name),
                replace = if *or_replace { "OR REPLACE " } else { "" },
            ),
            Ddl::DropFunction { function, if_exists: yes } => write!(f, "DROP FUNCTION{} {function};", if_exists(*yes)),
            Ddl::GrantExecute { function, to } => write!(f, "GRANT EXECUTE ON FUNCTION {function} TO {};", list(to)),
            Ddl::RevokeExecute { function, from } => {
                write!(f, "REVOKE EXECUTE ON FUNCTION {function} FROM {};", list(from))
            }
            Ddl::CreateTable { table, elements } => {
                write!(f, "CREATE TABLE {} (\n  {}\n);", ident(table), elements.iter().map(ToString::to_string).collect::<Vec<_>>().join(",\n  "))
            }
            Ddl::DropTables { tables, if_exists: yes } => write!(f, "DROP TABLE{} {};", if_exists(*yes), idents(tables)),
            Ddl::AddColumn { table, column, if_not_exists } => write!(
                f,
                "ALTER TABLE {} ADD COLUMN {}{column};",
                ident(table),
                if *if_not_exists { "IF NOT EXISTS " } else { "" }
            ),
            Ddl::DropColumn { table, column, if_exists: yes } => {
                write!(f, "ALTER TABLE {} DROP COLUMN{} {};", ident(table), if_exists(*yes), ident(column))
            }
            Ddl::SetDefault { table, column, default: Some(default) } => {
                write!(f, "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {default};", ident(table), ident(column))
            }
            Ddl::SetDefault { table, column, default: None } => {
                write!(f, "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT;", ident(table), ident(column))
            }
            Ddl::SetNotNull { table, column } => {
                write!(f, "ALTER TABLE {} ALTER COLUMN {} SET NOT NULL;", ident(table), ident(column))
            }
            Ddl::DropNotNull { table, column } => {
                write!(f, "ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL;", ident(table), ident(column))
            }
            Ddl::AddConstraint { table, constraint, not_valid } => write!(
                f,
                "ALTER TABLE {} ADD {constraint}{};",
                ident(table),
                if *not_valid { " NOT VALID" } else { "" }
            ),
            Ddl::ValidateConstraint { table, name, .. } => {
                write!(f, "ALTER TABLE {} VALIDATE CONSTRAINT {};", ident(table), ident(name))
            }
            Ddl::DropConstraint { table, name, if_exists: yes, cascade } => write!(
                f,
                "ALTER TABLE {} DROP CONSTRAINT{} {}{};",
                ident(table),
                if_exists(*yes),
                ident(name),
                if *cascade { " CASCADE" } else { "" }
            ),
            Ddl::RenameConstraint { table, from, to } => {
                write!(f, "ALTER TABLE {} RENAME CONSTRAINT {} TO {};", ident(table), ident(from), ident(to))
            }
            Ddl::ReplacePrimaryKey { table, drop, name, index } => {
                let drop = drop.as_ref().map_or(String::new(), |old| format!(" DROP CONSTRAINT {},", ident(old)));
                write!(
                    f,
                    "ALTER TABLE {}{drop} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {};",
                    ident(table),
                    ident(name),
                    ident(index)
                )
            }
            Ddl::CreateIndex { name, table, columns, unique, concurrently, if_not_exists } => write!(
                f,
                "CREATE {}INDEX {}{}{} ON {} ({});",
                if *unique { "UNIQUE " } else { "" },
                if *concurrently { "CONCURRENTLY " } else { "" },
                if *if_not_exists { "IF NOT EXISTS " } else { "" },
                ident(name),
                ident(table),
                idents(columns)
            ),
            Ddl::DropIndex { name, concurrently, if_exists: yes } => write!(
                f,
                "DROP INDEX {}{}{};",
                if *concurrently { "CONCURRENTLY " } else { "" },
                if *yes { "IF EXISTS " } else { "" },
                ident(name)
            ),
            Ddl::EnableRls { table } => write!(f, "ALTER TABLE {} ENABLE ROW LEVEL SECURITY;", ident(table)),
            Ddl::DisableRls { table } => write!(f, "ALTER TABLE {} DISABLE ROW LEVEL SECURITY;", ident(table)),
            Ddl::ForceRls { table } => write!(f, "ALTER TABLE {} FORCE ROW LEVEL SECURITY;", ident(table)),
            Ddl::NoForceRls { table } => write!(f, "ALTER TABLE {} NO FORCE ROW LEVEL SECURITY;", ident(table)),
            Ddl::CreatePolicy(policy) => {
                if f.alternate() {
                    write!(f, "{policy:#};")
                } else {
                    write!(f, "{policy};")
                }
            }
            Ddl::DropPolicy { name, table, if_exists: yes } => {
                write!(f, "DROP POLICY{} {} ON {};", if_exists(*yes), ident(name), ident(table))
            }
            Ddl::CreateTrigger { name, table, update_of, function } => write!(
                f,
                "CREATE TRIGGER {} BEFORE UPDATE OF {} ON {}\n  FOR EACH ROW EXECUTE FUNCTION {}();",
                ident(name),
                ident(update_of),
                ident(table),
                ident(function)
            ),
            Ddl::DropTrigger { name, table, if_exists: yes } => {
                write!(f, "DROP TRIGGER{} {} ON {};", if_exists(*yes), ident(name), ident(table))
            }
            Ddl::Grant { privileges, table, role } => {
                write!(f, "GRANT {} ON {} TO {};", privilege_list(privileges), ident(table), ident(role))
            }
            Ddl::Revoke { privileges, table, role } => {
                write!(f, "REVOKE {} ON {} FROM {};", privilege_list(privileges), ident(table), ident(role))
            }
            Ddl::SetOwner { table, owner } => {
                let owner = match owner {
                    Owner::CurrentUser => "CURRENT_USER".to_owned(),
                    Owner::Role(role) => ident(role),
                };
                write!(f, "ALTER TABLE {} OWNER TO {owner};", ident(table))
            }
            Ddl::ViewSecurityInvoker { view, on: true } => {
                write!(f, "ALTER VIEW {} SET (security_invoker = true);", ident(view))
            }
            Ddl::ViewSecurityInvoker { view, on: false } => {
                write!(f, "ALTER VIEW {} RESET (security_invoker);", ident(view))
            }
            Ddl::InsertIfMissing { table, columns, values } => write!(
                f,
                "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING;",
                ident(table),
                idents(columns),
                values.join(", ")
            ),
            Ddl::Backfill { sql } => f.write_str(sql),
            Ddl::CreateMigrationsTable => f.write_str(
                "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (\n  version text PRIMARY KEY NOT NULL,\n  run_on timestamptz NOT NULL DEFAULT now()\n);",
            ),
            Ddl::RecordMigrations { versions } => write!(
                f,
                "INSERT INTO __diesel_schema_migrations (version) VALUES {}\n  ON CONFLICT (version) DO NOTHING;",
                versions.iter().map(|v| format!("({})", literal(v))).collect::<Vec<_>>().join(", ")
            ),
            Ddl::ForgetMigrations { versions } => write!(
                f,
                "DELETE FROM __diesel_schema_migrations WHERE version IN ({});",
                versions.iter().map(|v| literal(v)).collect::<Vec<_>>().join(", ")
            ),
            Ddl::Restore { definition } => write!(f, "{};", definition.trim_end()),
            Ddl::Guarded { condition, statement } => {
                write!(f, "DO $tenancy$ BEGIN\n  IF {condition} THEN\n    {statement:#}\n  END IF;\nEND $tenancy$;")
            }
            Ddl::Sequence(statements) => {
                let lines: Vec<String> = statements.iter().map(ToString::to_string).collect();
                f.write_str(&lines.join("\n"))
            }
            Ddl::Comment(text) => write!(f, "-- {text}"),
        }
    }
}

/// `public` is written bare, as PostgreSQL and the migrations always have.
fn ident_or_public(schema: &str) -> String {
    if schema == "public" { schema.to_owned() } else { ident(schema) }
}

fn privilege_list(privileges: &[Privilege]) -> String {
    privileges.iter().map(|p| p.sql()).collect::<Vec<_>>().join(", ")
}

impl Display for FunctionRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", ident(&self.name), self.arguments)
    }
}

impl Display for Grantee {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Grantee::Public => f.write_str("PUBLIC"),
            Grantee::Role(role) => f.write_str(&ident(role)),
        }
    }
}

impl Display for ColumnDef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", ident(&self.name), self.ty)?;
        if self.not_null {
            f.write_str(" NOT NULL")?;
        }
        match &self.default {
            Some(ColumnDefault::Expression(default)) => write!(f, " DEFAULT {default}"),
            Some(ColumnDefault::Identity) => f.write_str(" GENERATED BY DEFAULT AS IDENTITY"),
            None => Ok(()),
        }
    }
}

impl Display for Element {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Element::Column(column) => column.fmt(f),
            Element::Constraint(constraint) => constraint.fmt(f),
        }
    }
}

impl Display for Constraint {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "CONSTRAINT {} ", ident(self.name()))?;
        match self {
            Constraint::PrimaryKey { columns, .. } => write!(f, "PRIMARY KEY ({})", idents(columns)),
            Constraint::Unique { columns, .. } => write!(f, "UNIQUE ({})", idents(columns)),
            Constraint::UniqueUsingIndex { index, .. } => write!(f, "UNIQUE USING INDEX {}", ident(index)),
            Constraint::ForeignKey { columns, table, ref_columns, on_delete, .. } => {
                write!(f, "FOREIGN KEY ({}) REFERENCES {} ({})", idents(columns), ident(table), idents(ref_columns))?;
                match on_delete {
                    Some(OnDelete::Cascade) => f.write_str(" ON DELETE CASCADE"),
                    Some(OnDelete::SetNull(columns)) => write!(f, " ON DELETE SET NULL ({})", idents(columns)),
                    None => Ok(()),
                }
            }
            Constraint::NotNull { column, .. } => write!(f, "CHECK ({} IS NOT NULL)", ident(column)),
            Constraint::Definition { definition, .. } => f.write_str(definition),
        }
    }
}

impl Display for Policy {
    /// `{:#}` on one line (inside a guarded block), else USING and WITH CHECK on lines of their own.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let roles = list(&self.roles);
        write!(
            f,
            "CREATE POLICY {} ON {} AS {} FOR {} TO {roles}",
            ident(&self.name),
            ident(&self.table),
            if self.permissive { "PERMISSIVE" } else { "RESTRICTIVE" },
            self.command
        )?;
        let break_ = if f.alternate() { " " } else { "\n  " };
        if let Some(using) = &self.using {
            write!(f, "{break_}USING ({using})")?;
        }
        if let Some(check) = &self.with_check {
            write!(f, "{break_}WITH CHECK ({check})")?;
        }
        Ok(())
    }
}

impl Display for Condition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Condition::ConstraintExists { table, name } => write!(
                f,
                "EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE conrelid = {}::regclass AND conname = {})",
                literal(&ident(table)),
                literal(name)
            ),
            Condition::PolicyExists { table, name } => write!(
                f,
                "EXISTS (SELECT FROM pg_catalog.pg_policy WHERE polrelid = {}::regclass AND polname = {})",
                literal(&ident(table)),
                literal(name)
            ),
            Condition::Not(condition) => write!(f, "NOT {condition}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_of_each_reversible_statement_names_the_same_object() {
        let policy = Ddl::CreatePolicy(Policy {
            name: "p".into(),
            table: "t".into(),
            permissive: true,
            command: "ALL",
            roles: vec![Grantee::Role("app".into())],
            using: Some("x".into()),
            with_check: None,
        });
        assert_eq!(policy.undo().unwrap().to_string(), r#"DROP POLICY IF EXISTS "p" ON "t";"#);
        assert_eq!(policy.to_string(), "CREATE POLICY \"p\" ON \"t\" AS PERMISSIVE FOR ALL TO \"app\"\n  USING (x);");
        assert_eq!(format!("{policy:#}"), "CREATE POLICY \"p\" ON \"t\" AS PERMISSIVE FOR ALL TO \"app\" USING (x);");
        let index = Ddl::CreateIndex {
            name: "i".into(),
            table: "t".into(),
            columns: vec!["a".into(), "b".into()],
            unique: true,
            concurrently: true,
            if_not_exists: true,
        };
        assert_eq!(index.to_string(), r#"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "i" ON "t" ("a", "b");"#);
        assert_eq!(index.lock(), lock::CONCURRENTLY);
        assert_eq!(index.undo().unwrap().to_string(), r#"DROP INDEX CONCURRENTLY IF EXISTS "i";"#);
        let grant = Ddl::Grant { privileges: vec![Privilege::Select], table: "t".into(), role: "r".into() };
        assert_eq!(grant.undo().unwrap().undo(), Some(grant));
    }

    #[test]
    fn hostile_names_are_quoted_everywhere() {
        let drop = Ddl::DropConstraint { table: "a\"b".into(), name: "c'd".into(), if_exists: true, cascade: true };
        assert_eq!(drop.to_string(), r#"ALTER TABLE "a""b" DROP CONSTRAINT IF EXISTS "c'd" CASCADE;"#);
        let guarded = Ddl::Guarded {
            condition: Condition::Not(Box::new(Condition::ConstraintExists {
                table: "it's".into(),
                name: "n'".into(),
            })),
            statement: Box::new(drop),
        };
        assert!(guarded.to_string().contains(r#"conrelid = '"it''s"'::regclass AND conname = 'n'''"#));
    }
}
