//! Steps 2 and 4: `add_columns` (nullable org columns defaulting to the claim, and declared
//! columns the database lacks) and `org_not_null` (proved by a validated check first, so
//! `SET NOT NULL` does not scan under its exclusive lock).

use super::{Mode, Planner};
use crate::ddl::{ColumnDef, Constraint, Ddl, Validate};
use crate::sql::{ident, names};

/// Nullable org columns, then declared columns the database lacks (added nullable: existing
/// rows have no value; the scan reports the nullability until someone fills them).
pub(super) fn add_columns(p: &mut Planner<'_>) {
    let org = p.org();
    p.step("add_columns", Mode::Statements);
    for table in p.existing() {
        let t = &table.name;
        if table.is_tenant() {
            let column = p.catalog.column(t, org);
            if column.is_none() {
                p.up_and_undo(add_column(t, org, &p.schema.settings.org_key.sql_name()), None);
            }
            // From now on an application that sets the claim writes placed rows (the backfill
            // covers those written before, and those written without a claim).
            let wanted = format!("{}()", names::AUTH_ORG_ID);
            let old = column.and_then(|c| c.default.clone());
            if old.as_deref() != Some(wanted.as_str()) {
                let default = Some(format!("{}()", ident(names::AUTH_ORG_ID)));
                p.up(Ddl::SetDefault { table: t.clone(), column: org.to_owned(), default }, None);
                if column.is_some() {
                    p.down(Ddl::SetDefault { table: t.clone(), column: org.to_owned(), default: old });
                }
            }
        }
        for column in &table.columns {
            if p.catalog.column(t, &column.name).is_some() {
                continue;
            }
            let add = add_column(t, &column.name, &column.ty.sql_name());
            let undo = add.undo().expect("ADD COLUMN has an undo");
            p.up(add, None);
            if let Some(default) = &column.default {
                // Only rows inserted from now on get it: no rewrite of existing rows.
                let default = Some(default.clone());
                p.up(Ddl::SetDefault { table: t.clone(), column: column.name.clone(), default }, None);
            }
            p.down(undo);
            if !column.nullable {
                p.plan.notes.push(format!(
                    "{t}.{} is declared NOT NULL but added nullable: existing rows have no value; fill it, then SET NOT NULL",
                    column.name
                ));
            }
        }
    }
    p.finish();
}

fn add_column(table: &str, column: &str, ty: &str) -> Ddl {
    Ddl::AddColumn {
        table: table.to_owned(),
        column: ColumnDef { name: column.to_owned(), ty: ty.to_owned(), not_null: false, default: None },
        if_not_exists: true,
    }
}

/// `CHECK (org IS NOT NULL) NOT VALID` → `VALIDATE` (reads and writes continue) → `SET NOT NULL`
/// (proved by the check: no scan) → the check dropped.
pub(super) fn not_null(p: &mut Planner<'_>) {
    let org = p.org();
    p.step("org_not_null", Mode::Statements);
    for table in p.existing_tenants() {
        if p.catalog.column(&table.name, org).is_some_and(|c| c.not_null) {
            continue;
        }
        let t = table.name.clone();
        let check = names::not_null_check(&t, org);
        let constraint = Constraint::NotNull { name: check.clone(), column: org.to_owned() };
        p.up_and_undo(Ddl::AddConstraint { table: t.clone(), constraint, not_valid: true }, None);
        p.up(Ddl::ValidateConstraint { table: t.clone(), name: check.clone(), kind: Validate::Check }, Some(&t));
        p.offenders(p.null_offenders(&t, org));
        p.up_and_undo(Ddl::SetNotNull { table: t.clone(), column: org.to_owned() }, None);
        p.up(Ddl::DropConstraint { table: t, name: check, if_exists: true, cascade: false }, None);
    }
    p.finish();
}
