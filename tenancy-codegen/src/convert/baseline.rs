//! Step 9, `baseline`: records the workspace's own migrations as applied — the converted
//! database is now in the state they lead to, so later migrations apply to it as to a fresh
//! one. And the plan's notes: what it leaves for a person to decide.

use super::{Mode, Planner};
use crate::catalog::ViewKind;
use crate::ddl::{Ddl, lock};

pub(super) fn baseline(p: &mut Planner<'_>) {
    if p.options.baseline.is_empty() {
        return;
    }
    p.step("baseline", Mode::Transaction);
    p.up_locking(Ddl::CreateMigrationsTable, lock::NONE, None);
    p.up_and_undo(Ddl::RecordMigrations { versions: p.options.baseline.clone() }, None);
}

pub(super) fn notes(p: &mut Planner<'_>) {
    let mut notes = Vec::new();
    for live in p.catalog.tables.iter() {
        if p.schema.table(&live.name).is_none() {
            notes.push(format!("table {} is not declared: left as it is (declare it, or drop it yourself)", live.name));
        }
    }
    for table in p.existing() {
        for column in p.catalog.columns_of(&table.name) {
            let declared = table.column(&column.name);
            if let Some(declared) = declared
                && !declared.ty.matches_sql(&column.ty)
            {
                notes.push(format!(
                    "{}.{} is {} but declared {}: changing a column's type rewrites the table, so the plan leaves it",
                    table.name,
                    column.name,
                    column.ty,
                    declared.ty.sql_name()
                ));
            } else if declared.is_none() && !(table.is_tenant() && column.name == p.org()) {
                notes.push(format!("{}.{} is not declared: kept (it holds data)", table.name, column.name));
            }
        }
    }
    for view in p.catalog.views.iter() {
        if view.kind == ViewKind::Materialized {
            notes.push(format!(
                "materialized view {} cannot be isolated by row-level security; replace it with a view or a tenant table",
                view.name
            ));
        }
    }
    p.plan.notes.extend(notes);
}
