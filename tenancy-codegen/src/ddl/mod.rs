//! The typed statements both planners emit (in the spirit of diesel's `SchemaDiff`): each knows
//! how it is written ([`Display`](std::fmt::Display); `{:#}` writes a policy on one line), the
//! lock it takes ([`Ddl::lock`]) and, where the statement alone decides it, what undoes it
//! ([`Ddl::undo`]). Planners build statements and choose among them by variant; nothing sorts or
//! parses SQL text. Every identifier is written through [`ident`], every value through [`literal`].

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
    /// USAGE on a sequence a column's default draws from (`serial` keys): what INSERT needs.
    GrantSequenceUsage {
        sequence: QualifiedName,
        role: String,
    },
    RevokeSequenceUsage {
        sequence: QualifiedName,
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
        /// Its schema when not the first on the search path (a declaration's other schemas).
        schema: Option<String>,
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
    /// The signed claim's key schema and table, closed to everyone but their owner.
    CreateClaimKeys {
        schema: String,
        table: String,
    },
    DropClaimKeys {
        schema: String,
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
    /// Citus: the table copied to every node (`create_reference_table`).
    CreateReferenceTable {
        table: String,
    },
    /// Citus: the table sharded by `column`, in the colocation group of `colocate_with`.
    CreateDistributedTable {
        table: String,
        column: String,
        colocate_with: Option<String>,
    },
    /// Citus: back to a plain table on the coordinator (`undistribute_table`).
    UndistributeTable {
        table: String,
    },
    /// `CREATE TYPE name AS ENUM (...)`: a declared enum type.
    CreateEnum {
        name: String,
        labels: Vec<String>,
    },
    /// `ALTER TYPE name ADD VALUE IF NOT EXISTS 'label'` (appended; labels are never removed).
    AddEnumValue {
        name: String,
        label: String,
    },
    DropEnum {
        name: String,
    },
    /// `SET LOCAL name = 'value'` (a setting for the rest of the transaction).
    SetLocal {
        name: String,
        value: String,
    },
    /// `ALTER DATABASE <current> SET name = 'value'` (new sessions of the database).
    SetDatabaseDefault {
        name: String,
        value: String,
    },
    Comment(String),
}

/// A function tenancy creates: `CREATE FUNCTION name() RETURNS returns LANGUAGE language ...
/// SET search_path = pg_catalog, pg_temp AS $tenancy$body$tenancy$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub or_replace: bool,
    pub returns: String,
    /// The language and its attributes: `sql STABLE PARALLEL SAFE`.
    pub language: &'static str,
    pub body: String,
    /// Arguments as written in the signature (`"key" uuid`), usually none.
    pub arguments: String,
}

/// An object named with its schema (`"basejump"."accounts_id_seq"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
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
    Restrict,
    /// PostgreSQL 15: only these columns (never the org column).
    SetNull(Vec<String>),
    SetDefault(Vec<String>),
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
    pub const DISTRIBUTE: &str = "SHARE (writes wait while the rows are copied to the shards; reads continue)";
}

impl Ddl {
    /// The lock the statement takes on the tables it touches, in words.
    pub fn lock(&self) -> &'static str {
        match self {
            Ddl::EnsureAppRole { .. }
            | Ddl::GrantSchemaUsage { .. }
            | Ddl::RevokeSchemaUsage { .. }
            | Ddl::GrantSequenceUsage { .. }
            | Ddl::RevokeSequenceUsage { .. }
            | Ddl::CreateFunction(_)
            | Ddl::DropFunction { .. }
            | Ddl::GrantExecute { .. }
            | Ddl::RevokeExecute { .. }
            | Ddl::CreateTable { .. }
            | Ddl::Grant { .. }
            | Ddl::Revoke { .. }
            | Ddl::CreateMigrationsTable
            | Ddl::CreateClaimKeys { .. }
            | Ddl::DropClaimKeys { .. }
            | Ddl::Restore { .. }
            | Ddl::Guarded { .. }
            | Ddl::SetLocal { .. }
            | Ddl::CreateEnum { .. }
            | Ddl::AddEnumValue { .. }
            | Ddl::DropEnum { .. }
            | Ddl::SetDatabaseDefault { .. }
            | Ddl::Comment(_) => lock::NONE,
            Ddl::CreateReferenceTable { .. } | Ddl::CreateDistributedTable { .. } | Ddl::UndistributeTable { .. } => {
                lock::DISTRIBUTE
            }
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
                function: FunctionRef { name: function.name.clone(), arguments: function.arguments.clone() },
                if_exists: true,
            },
            Ddl::CreateEnum { name, .. } => Ddl::DropEnum { name: name.clone() },
            Ddl::CreateReferenceTable { table } | Ddl::CreateDistributedTable { table, .. } => {
                Ddl::UndistributeTable { table: table.clone() }
            }
            Ddl::Grant { privileges, table, role } => {
                Ddl::Revoke { privileges: privileges.clone(), table: table.clone(), role: role.clone() }
            }
            Ddl::GrantSequenceUsage { sequence, role } => {
                Ddl::RevokeSequenceUsage { sequence: sequence.clone(), role: role.clone() }
            }
            Ddl::Revoke { privileges, table, role } => {
                Ddl::Grant { privileges: privileges.clone(), table: table.clone(), role: role.clone() }
            }
            Ddl::ViewSecurityInvoker { view, on } => Ddl::ViewSecurityInvoker { view: view.clone(), on: !on },
            Ddl::RecordMigrations { versions } => Ddl::ForgetMigrations { versions: versions.clone() },
            Ddl::CreateClaimKeys { schema, .. } => Ddl::DropClaimKeys { schema: schema.clone() },
            _ => return None,
        })
    }
}

mod render;

#[cfg(test)]
mod tests;
