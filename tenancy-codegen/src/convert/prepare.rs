//! Step 1, `prepare` (one transaction): what must exist before any table changes — the app
//! role, `auth_org_id()`, the immutability trigger function, the default organization, and the
//! declared tables the database does not have yet. Also the refusals: what no plan can convert.

use super::{Mode, Planner};
use crate::catalog::Volatility;
use crate::ddl::{Ddl, FunctionRef, lock};
use crate::error::PlanError;
use crate::sql::{self, ident, literal, names};
use tenancy_schema::{Backfill, ColumnType, Scope, Table};

/// What the plan refuses, before anything is planned: one error naming the object and what to do.
pub(super) fn refusals(p: &Planner<'_>) -> Result<(), PlanError> {
    let org = p.org();
    if let Some(role) = p.catalog.app_role()
        && (role.superuser || role.bypass_rls)
    {
        return Err(PlanError::conversion(
            format!("app role {}", role.name),
            "it is SUPERUSER or BYPASSRLS, so row-level security would never apply to it",
            format!("run ALTER ROLE {} NOSUPERUSER NOBYPASSRLS first", ident(&role.name)),
        ));
    }
    let key_type = p.schema.settings.org_key.sql_name();
    if let Some(returns) = &p.live.auth_org_id_returns
        && *returns != key_type
    {
        return Err(PlanError::conversion(
            "auth_org_id()",
            format!("it returns {returns}, and the policies need {key_type}"),
            "drop it (and the policies using it) or rename it, then plan again",
        ));
    }
    let root = p.schema.root();
    for table in p.existing() {
        if table.scope == Scope::Tenant
            && let Some(column) = p.catalog.column(&table.name, org)
            && column.ty != key_type
        {
            return Err(PlanError::conversion(
                format!("table {}", table.name),
                format!("its {org} column is {}, not {key_type} like the organizations key", column.ty),
                format!(
                    "convert it by hand (e.g. add {org}_new, fill it, swap the names), or rename it so the plan adds a new {org}"
                ),
            ));
        }
        let missing = table.keys().into_iter().find(|k| p.catalog.column(&table.name, &k.name).is_none());
        if let Some(key) = missing.filter(|_| table.is_tenant()) {
            return Err(PlanError::conversion(
                format!("table {}", table.name),
                format!("its declared key column {} does not exist", key.name),
                "declare the table's real key column with #[key]",
            ));
        }
        let key = table.keys()[0];
        if table.scope == Scope::Root
            && let Some(column) = p.catalog.column(&table.name, &key.name)
            && !key.ty.matches_sql(&column.ty)
        {
            return Err(PlanError::conversion(
                format!("table {}", root.name),
                format!("its key {} is {} in the database but declared {}", key.name, column.ty, key_type),
                format!("declare the key as the database has it (`#[key] {}: ...` of type {})", key.name, column.ty),
            ));
        }
    }
    Ok(())
}

/// Functions, the default organization and the tables that do not exist yet.
pub(super) fn prepare(p: &mut Planner<'_>) -> Result<(), PlanError> {
    let settings = &p.schema.settings;
    p.step("prepare", Mode::Transaction);
    // The role when it is missing; USAGE on the schemas whatever it had (a GRANT it already
    // has changes nothing; revert leaves it, as it may have been there before).
    let missing = p.catalog.app_role().is_none();
    for statement in sql::ensure_app_role(p.schema) {
        if missing || matches!(statement, Ddl::GrantSchemaUsage { .. }) {
            p.up_locking(statement, lock::NONE, None);
        }
    }
    if settings.claim.is_signed() && !p.live.claim_keys_exist {
        for statement in sql::claim_keys() {
            p.up_locking(statement, lock::NONE, None);
        }
        p.down(sql::drop_claim_keys().remove(0));
    }
    if auth_org_id_needs_fixing(p) {
        for statement in sql::auth_org_id(settings, true) {
            p.up_locking(statement, lock::NONE, None);
        }
        match &p.live.auth_org_id_definition {
            Some(old) => p.down(Ddl::Restore { definition: old.clone() }),
            None => p.down(drop_function(names::AUTH_ORG_ID)),
        }
    }
    if !p.catalog.functions.iter().any(|f| f.name == names::IMMUTABLE_TRIGGER_FUNCTION && f.returns_trigger) {
        p.up_locking(sql::immutability_function(settings, true), lock::NONE, None);
        p.down(drop_function(names::IMMUTABLE_TRIGGER_FUNCTION));
    }
    // Missing tables, created without row-level security (that comes last, once data is in
    // place). Foreign keys to tables that exist already wait for `tenant_fks`; those between two
    // new tables come after all of them exist.
    let missing: Vec<&Table> =
        p.schema.tables_in_dependency_order().into_iter().filter(|t| p.catalog.table(&t.name).is_none()).collect();
    let mut created: Vec<&str> = Vec::new();
    let mut keys_between_new_tables = Vec::new();
    for table in &missing {
        let (statements, deferred) = sql::create_table(p.schema, table, &created);
        for statement in statements {
            p.up_locking(statement, lock::NONE, None);
        }
        keys_between_new_tables.extend(deferred.into_iter().filter(|statement| match statement {
            Ddl::AddConstraint { constraint, .. } => {
                constraint.references().is_some_and(|target| missing.iter().any(|m| m.name == target))
            }
            _ => true,
        }));
        created.push(&table.name);
    }
    for statement in keys_between_new_tables {
        p.up_locking(statement, lock::NONE, None);
    }
    if !missing.is_empty() {
        p.down(Ddl::DropTables { tables: missing.iter().rev().map(|t| t.name.clone()).collect(), if_exists: true });
    }
    default_organization(p)?;
    p.finish();
    Ok(())
}

fn drop_function(name: &str) -> Ddl {
    Ddl::DropFunction { function: FunctionRef { name: name.to_owned(), arguments: String::new() }, if_exists: true }
}

/// Whether `auth_org_id()` is missing or differs from the one the declaration generates.
fn auth_org_id_needs_fixing(p: &Planner<'_>) -> bool {
    let Some(function) = p.catalog.functions.iter().find(|f| f.name == names::AUTH_ORG_ID && f.arguments.is_empty())
    else {
        return true;
    };
    function.volatility != Volatility::Stable
        || !function.config.iter().any(|c| c.starts_with("search_path="))
        || function.source.trim() != sql::auth_org_id_body(&p.schema.settings)
        || function.security_definer != p.schema.settings.claim.is_signed()
}

/// The default organization, when a backfill places rows in it and it does not exist.
fn default_organization(p: &mut Planner<'_>) -> Result<(), PlanError> {
    let uses_default = p.schema.tables.iter().any(|t| t.backfill == Some(Backfill::DefaultOrg));
    let (true, Some(org), false) = (uses_default, &p.schema.settings.default_org, p.live.default_org_exists) else {
        return Ok(());
    };
    let root = p.schema.root();
    let mut columns = vec![root.key().name.clone()];
    let mut values = vec![format!("{}::{}", literal(org), p.schema.settings.org_key.sql_name())];
    for column in root.columns.iter().filter(|c| !c.key && !c.nullable && c.default.is_none()) {
        if column.ty != ColumnType::Text {
            return Err(PlanError::conversion(
                format!("the default organization {org}"),
                format!("it does not exist, and {}.{} needs a value", root.name, column.name),
                format!("insert the organization {org} yourself, then plan again"),
            ));
        }
        columns.push(column.name.clone());
        // Unique text columns (a slug) get the id, which is unique by construction.
        values.push(literal(org));
    }
    p.up(Ddl::InsertIfMissing { table: root.name.clone(), columns, values }, None);
    p.down(Ddl::Comment(format!("The default organization {org} is kept: rows may belong to it now.")));
    Ok(())
}
