//! Citus: the statements that place a tenancy database's tables on a Citus cluster — the same
//! declaration, the same committed migrations, then this one step (`tenancy-migrate apply`
//! runs it on a coordinator; `plan --target citus` writes it for a populated database).
//!
//! - tenant tables are hash-distributed by the org column, all in one colocation group, so
//!   every composite foreign key `(org_id, parent_id)` and every org-scoped query stays on one
//!   shard;
//! - the organizations table, global, shared and internal tables (and the signed claim's keys)
//!   become reference tables, copied to every node: tenant tables reference the organizations
//!   table, and reference tables are what distributed tables may point at. (Distributing the
//!   organizations table by its key would colocate it too, but a shared table referencing it —
//!   `users.default_org_id` — could then not be a reference table; a reference table keeps
//!   every foreign key of the declaration expressible.)
//! - policies take the form Citus accepts: no subquery (`org_id = auth_org_id()`, STABLE, so
//!   still evaluated once per statement per shard), and a shared table's link check in a
//!   function;
//! - the order Citus needs: foreign keys between declared tables are dropped, the tables
//!   placed (reference tables first, then the tenant tables from the roots down), the foreign
//!   keys added back as the declaration has them.
//!
//! Pure: the declaration, the catalog and where each table already is in; statements out.

use crate::catalog::{Catalog, ConstraintKind};
use crate::ddl::{Constraint, Ddl, Function, FunctionRef, Grantee, OnDelete, Policy};
use crate::error::PlanError;
use crate::sql::{self, ident, names};
use tenancy_schema::{Schema, Scope, Table};

/// Where a table is on the cluster (`pg_dist_partition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Hash-distributed by `column`, in colocation group `colocation`.
    Distributed {
        column: String,
        colocation: i32,
    },
    Reference,
}

/// What the planner needs to know about the cluster.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// Tables already placed, by name (in the declaration's schema).
    pub placed: Vec<(String, Placement)>,
}

impl Cluster {
    fn placement(&self, table: &str) -> Option<&Placement> {
        self.placed.iter().find(|(name, _)| name == table).map(|(_, p)| p)
    }
}

/// How a table of this scope is placed.
pub fn wanted(schema: &Schema, table: &Table) -> Placement {
    match table.scope {
        Scope::Tenant if is_local_link(schema, table) => Placement::Reference,
        Scope::Tenant => Placement::Distributed { column: schema.settings.org_column.clone(), colocation: 0 },
        Scope::Root | Scope::Global | Scope::Shared | Scope::Internal => Placement::Reference,
    }
}

/// A tenant table that links a shared table's rows to organizations (`user_organizations`),
/// referencing only tables that are reference tables themselves: it becomes a reference table.
/// The shared table's policy reads it for every row it checks, on whichever node holds the
/// row; distributed, that read is a distributed query from inside a shard's query, which Citus
/// cannot run ("could not create distributed plan", "a column definition list is required").
/// Its own policy (`org_id = auth_org_id()`) isolates it there as anywhere.
fn is_local_link(schema: &Schema, table: &Table) -> bool {
    let links = schema
        .tables
        .iter()
        .any(|t| t.scope == Scope::Shared && t.link.as_ref().is_some_and(|link| link.table == table.name));
    let references_distributed =
        table.columns.iter().filter_map(|c| c.references.as_ref()).any(|r| {
            r.table != table.name && schema.table(&r.table).is_some_and(|parent| parent.scope == Scope::Tenant)
        });
    links && !references_distributed
}

/// The statements that place every declared table (nothing when all already are), and notes
/// on what differs from a single node.
#[derive(Debug, Clone, Default)]
pub struct Steps {
    pub statements: Vec<Ddl>,
    pub notes: Vec<String>,
}

/// The statements that place every declared table, or nothing when all already are.
pub fn plan(schema: &Schema, catalog: &Catalog, cluster: &Cluster) -> Result<Steps, PlanError> {
    let org = schema.settings.org_column.as_str();
    let tables = schema.tables_in_dependency_order();
    let mut groups = Vec::new();
    for table in &tables {
        match (wanted(schema, table), cluster.placement(&table.name)) {
            (_, None) => {}
            (Placement::Reference, Some(Placement::Reference)) => {}
            (Placement::Distributed { .. }, Some(Placement::Distributed { column, colocation })) if column == org => {
                groups.push(*colocation);
            }
            (wanted, Some(found)) => {
                return Err(PlanError::conversion(
                    format!("table {}", table.name),
                    format!("it is placed as {found:?} on the cluster; the declaration needs {wanted:?}"),
                    format!("undistribute it (SELECT undistribute_table('{}')), then apply again", table.name),
                ));
            }
        }
    }
    groups.dedup();
    if groups.len() > 1 {
        return Err(PlanError::conversion(
            "tenant tables",
            "they are distributed in several colocation groups, so foreign keys and joins between them cross shards",
            "undistribute the tables of the smaller groups and apply again",
        ));
    }
    let pending: Vec<&Table> = tables.iter().copied().filter(|t| cluster.placement(&t.name).is_none()).collect();
    if pending.is_empty() {
        return Ok(Steps::default());
    }
    let mut notes = Vec::new();
    let declared = |name: &str| schema.table(name).is_some();
    let mut up = vec![
        // One connection per node for the whole step: DDL and copies in one transaction.
        Ddl::SetLocal { name: "citus.multi_shard_modify_mode".to_owned(), value: "sequential".to_owned() },
        // The org column's immutability trigger goes to every shard with its table.
        Ddl::SetLocal { name: "citus.enable_unsafe_triggers".to_owned(), value: "on".to_owned() },
    ];
    // Foreign keys between declared tables go first (Citus distributes a table only with
    // foreign keys it can keep), and come back from the declaration after.
    for table in &pending {
        for fk in catalog.constraints_of(&table.name).filter(|c| c.kind == ConstraintKind::ForeignKey) {
            match fk.ref_table.as_deref() {
                Some(target) if declared(target) => up.push(Ddl::DropConstraint {
                    table: table.name.clone(),
                    name: fk.name.clone(),
                    if_exists: true,
                    cascade: false,
                }),
                Some(target) => {
                    return Err(PlanError::conversion(
                        format!("table {}", table.name),
                        format!("its foreign key {} points at {target}, which the declaration does not have", fk.name),
                        "a distributed or reference table may only reference tables on the cluster: declare the table, or drop the foreign key",
                    ));
                }
                None => {}
            }
        }
    }
    // Declared tables that reference a pending one lose that key too, for the same reason.
    for table in tables.iter().filter(|t| cluster.placement(&t.name).is_some()) {
        for fk in catalog.constraints_of(&table.name).filter(|c| c.kind == ConstraintKind::ForeignKey) {
            if fk.ref_table.as_deref().is_some_and(|t| pending.iter().any(|p| p.name == t)) {
                up.push(Ddl::DropConstraint {
                    table: table.name.clone(),
                    name: fk.name.clone(),
                    if_exists: true,
                    cascade: false,
                });
            }
        }
    }
    for table in &pending {
        up.extend(policy(schema, table));
    }
    if schema.settings.claim.is_signed() {
        let keys = format!("{}.{}", names::KEY_SCHEMA, names::KEY_TABLE);
        if cluster.placement(&keys).is_none() {
            up.push(Ddl::CreateReferenceTable { table: keys });
        }
    }
    for table in pending.iter().filter(|t| wanted(schema, t) == Placement::Reference) {
        up.push(Ddl::CreateReferenceTable { table: table.name.clone() });
    }
    // Tenant tables, parents first, all colocated with the first one.
    let mut anchor = tables
        .iter()
        .find(|t| matches!(cluster.placement(&t.name), Some(Placement::Distributed { .. })))
        .map(|t| t.name.clone());
    for table in pending.iter().filter(|t| matches!(wanted(schema, t), Placement::Distributed { .. })) {
        up.push(Ddl::CreateDistributedTable {
            table: table.name.clone(),
            column: org.to_owned(),
            colocate_with: anchor.clone(),
        });
        anchor.get_or_insert_with(|| table.name.clone());
    }
    // Every declared foreign key of the tables involved, as the declaration has it.
    let touched = |name: &str| pending.iter().any(|p| p.name == name);
    for table in &tables {
        if table.is_tenant() && touched(&table.name) {
            up.push(Ddl::AddConstraint {
                table: table.name.clone(),
                constraint: sql::org_foreign_key(schema, &table.name),
                not_valid: false,
            });
        }
        for column in &table.columns {
            let Some(reference) = &column.references else { continue };
            if touched(&table.name) || touched(&reference.table) {
                let mut constraint = sql::foreign_key_constraint(schema, table, column, reference);
                // Citus refuses SET NULL on a key that includes the distribution column, even
                // of only the referencing column: deleting a parent that still has children
                // is refused instead.
                if let Constraint::ForeignKey { columns, on_delete: on_delete @ Some(OnDelete::SetNull(_)), .. } =
                    &mut constraint
                    && columns.iter().any(|c| c == org)
                {
                    *on_delete = None;
                    notes.push(format!(
                        "{}.{}: ON DELETE SET NULL ({}) becomes NO ACTION on Citus (it refuses SET NULL on a key with the distribution column): delete or detach the {} rows first",
                        table.name, column.name, column.name, table.name
                    ));
                }
                up.push(Ddl::AddConstraint { table: table.name.clone(), constraint, not_valid: false });
            }
        }
    }
    // The claim set with SET LOCAL reaches the workers only when Citus passes it on.
    up.push(Ddl::SetDatabaseDefault { name: "citus.propagate_set_commands".to_owned(), value: "local".to_owned() });
    // A policy evaluated on a shard reads reference or distributed tables: the signed claim's
    // keys (in `auth_org_id()`), a shared table's link. Citus runs such nested queries only when
    // allowed; they only read, which is what makes them safe here.
    up.push(Ddl::SetDatabaseDefault {
        name: "citus.allow_nested_distributed_execution".to_owned(),
        value: "on".to_owned(),
    });
    Ok(Steps { statements: up, notes })
}

/// The policy of an isolated table in the form Citus accepts on a distributed or reference
/// table: no subquery. A shared table's link check moves into a function.
fn policy(schema: &Schema, table: &Table) -> Vec<Ddl> {
    let settings = &schema.settings;
    let claim = format!("{}()", ident(names::AUTH_ORG_ID));
    let mut out = Vec::new();
    let check = if table.scope == Scope::Shared {
        let Some(link) = &table.link else { return out };
        let function = link_function(&table.name);
        let key = table.key();
        let namespace = ident(&settings.schema);
        out.push(Ddl::CreateFunction(Function {
            name: function.clone(),
            or_replace: true,
            returns: "boolean".to_owned(),
            // PL/pgSQL: Citus cannot plan a distributed query on an SQL function's parameter
            // ("could not create distributed plan"); PL/pgSQL plans it with the value.
            language: "plpgsql STABLE PARALLEL SAFE",
            arguments: format!("key {}", key.ty.sql_name()),
            body: format!(
                " BEGIN RETURN EXISTS (SELECT FROM {namespace}.{l} WHERE {l}.{} = $1 AND {l}.{} = {namespace}.{claim}); END ",
                ident(&link.column),
                ident(&settings.org_column),
                l = ident(&link.table),
            ),
        }));
        out.push(Ddl::GrantExecute {
            function: FunctionRef { name: function.clone(), arguments: key.ty.sql_name() },
            to: vec![Grantee::Role(settings.app_role.clone())],
        });
        format!("{}({})", ident(&function), ident(&key.name))
    } else {
        match sql::belongs_to(settings, table, &claim) {
            Some(check) => check,
            None => return out,
        }
    };
    let shared = table.scope == Scope::Shared;
    out.push(Ddl::DropPolicy { name: names::policy(&table.name), table: table.name.clone(), if_exists: true });
    out.push(Ddl::CreatePolicy(Policy {
        name: names::policy(&table.name),
        table: table.name.clone(),
        permissive: true,
        command: if shared { "SELECT" } else { "ALL" },
        roles: vec![Grantee::Role(settings.app_role.clone())],
        using: Some(check.clone()),
        with_check: (!shared).then_some(check),
    }));
    out
}

/// The link check of a shared table on Citus: `tenancy_link_users(id)`.
pub fn link_function(table: &str) -> String {
    format!("tenancy_link_{table}")
}

/// The placement as a conversion plan: one step, one transaction (`plan --target citus
/// --out DIR`, then `apply --dir DIR`), each statement with its lock and the table's estimated
/// rows (what `create_distributed_table` copies), `down.sql` taking the tables off the cluster.
pub fn conversion(schema: &Schema, catalog: &Catalog, cluster: &Cluster) -> Result<crate::convert::Plan, PlanError> {
    use crate::convert::{Mode, Plan, Statement, Step};
    let steps = plan(schema, catalog, cluster)?;
    if steps.statements.is_empty() {
        return Ok(Plan { steps: Vec::new(), notes: vec!["every declared table is already placed".to_owned()] });
    }
    let rows = |ddl: &Ddl| match ddl {
        Ddl::CreateDistributedTable { table, .. } | Ddl::CreateReferenceTable { table } => {
            catalog.table(table).map(|t| t.estimated_rows.max(0))
        }
        _ => None,
    };
    let down: Vec<Ddl> = steps
        .statements
        .iter()
        .rev()
        .filter(|s| matches!(s, Ddl::CreateDistributedTable { .. } | Ddl::CreateReferenceTable { .. }))
        .filter_map(Ddl::undo)
        .collect();
    let mut notes = steps.notes;
    notes.push(
        "down.sql takes the tables off the cluster (undistribute_table); the policies stay in their Citus form, which works on one node too"
            .to_owned(),
    );
    let up = steps
        .statements
        .into_iter()
        .map(|ddl| Statement { lock: ddl.lock(), rows: rows(&ddl), ddl, offenders: None })
        .collect();
    Ok(Plan { steps: vec![Step { name: "0001_citus_placement".to_owned(), mode: Mode::Transaction, up, down }], notes })
}
