//! Steps 5 and 7: `org_keys` — the `(org, key)` unique index (the target of composite foreign
//! keys), the org foreign key, org-scoped unique keys replacing global ones, org-leading indexes
//! on referencing columns, all built without blocking writes — and `primary_keys`, where that
//! index becomes the primary key in one statement.

use super::{Mode, Planner};
use crate::ddl::{Constraint, Ddl};
use crate::sql::{self, names};

pub(super) fn org_keys(p: &mut Planner<'_>) {
    let org = p.org();
    p.step("org_keys", Mode::Statements);
    for table in p.existing_tenants() {
        let t = table.name.as_str();
        let key: Vec<&str> = std::iter::once(org).chain(table.key_names()).collect();
        // The (org, key) primary key, built as a unique index first: it is the target of the
        // composite foreign keys, and becomes the primary key in `primary_keys`.
        if p.catalog.primary_key(t).is_none_or(|pk| pk.columns != key) {
            let index = names::primary_key_replacement(t);
            p.up_and_undo(create_index(index, t, &key, true), Some(t));
        }
        // The org foreign key, ON DELETE CASCADE.
        match p.org_fk(t) {
            Some(fk) if fk.on_delete == Some(crate::catalog::FkAction::Cascade) => p.validate_foreign_key(t, fk),
            existing => {
                let replaced: Vec<crate::catalog::Constraint> = existing.into_iter().map(|r| r.fact.clone()).collect();
                for legacy in &replaced {
                    let found = legacy.on_delete.unwrap_or(crate::catalog::FkAction::NoAction);
                    p.plan.notes.push(format!(
                        "{t}.{org}: ON DELETE {} of {} becomes CASCADE (deleting an organization deletes its rows)",
                        found.sql(),
                        legacy.name
                    ));
                }
                p.replace_foreign_key(t, sql::org_foreign_key(p.schema, t), &replaced);
            }
        }
        // Declared unique keys, prefixed with the org column; the global ones they replace go.
        for unique in sql::unique_keys(table) {
            let scoped: Vec<&str> = std::iter::once(org).chain(unique.iter().copied()).collect();
            if !p.catalog.has_unique(t, &scoped) {
                add_unique(p, t, &scoped);
            }
            let global: Vec<(String, bool)> = p
                .catalog
                .indexes_of(t)
                .filter(|i| i.unique && !i.primary && i.columns.iter().map(String::as_str).eq(unique.iter().copied()))
                .map(|i| (i.name.clone(), p.catalog.constraints_of(t).any(|c| c.name == i.name)))
                .collect();
            for (name, is_constraint) in global {
                if is_constraint {
                    p.drop_constraint(t, &name);
                } else {
                    p.up(Ddl::DropIndex { name: name.clone(), concurrently: true, if_exists: true }, None);
                    p.plan.notes.push(format!(
                        "unique index {name} on {t} is replaced by an org-scoped one; revert does not recreate it"
                    ));
                }
            }
        }
        // Expression keys (`lower(email)`), built without blocking writes when missing.
        for key in &table.unique_expressions {
            let found = p.catalog.indexes_of(t).any(|i| {
                i.unique
                    && i.valid
                    && i.columns.iter().any(|c| c.starts_with('(') && key.matches(c))
                    && (key.global || i.columns.iter().any(|c| c == org))
            });
            if !found {
                p.up_and_undo(sql::expression_unique(&p.schema.settings, table, key, true), Some(t));
            }
        }
        // Declared global unique keys stay as they are; one that is missing is added.
        for columns in table.global_unique_keys() {
            if !p.catalog.has_unique(t, &columns) {
                add_unique(p, t, &columns);
            }
        }
        // Indexes for the referencing columns, leading with the org column.
        for columns in sql::indexes(&p.schema.settings, table) {
            let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
            if has_index_leading(p, t, &columns) || p.catalog.column(t, columns[columns.len() - 1]).is_none() {
                continue;
            }
            p.up_and_undo(create_index(names::index(t, &columns), t, &columns, false), Some(t));
        }
    }
    p.finish();
}

fn create_index(name: String, table: &str, columns: &[&str], unique: bool) -> Ddl {
    Ddl::CreateIndex {
        name,
        table: table.to_owned(),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        unique,
        concurrently: true,
        if_not_exists: true,
    }
}

fn has_index_leading(p: &Planner<'_>, table: &str, columns: &[&str]) -> bool {
    p.catalog.indexes_of(table).any(|i| {
        i.valid && !i.partial && i.columns.len() >= columns.len() && i.columns.iter().zip(columns).all(|(a, b)| a == b)
    })
}

/// A unique key built without blocking writes: index `CONCURRENTLY`, then the constraint on it.
fn add_unique(p: &mut Planner<'_>, table: &str, columns: &[&str]) {
    let name = names::unique(table, columns);
    p.up_and_undo(create_index(name.clone(), table, columns, true), Some(table));
    let constraint = Constraint::UniqueUsingIndex { name: name.clone(), index: name };
    p.up_and_undo(Ddl::AddConstraint { table: table.to_owned(), constraint, not_valid: false }, None);
}

/// Swaps each tenant table's primary key for `(org, key)` in one statement (the table is never
/// without one), once no plain foreign key depends on the old key.
pub(super) fn primary_keys(p: &mut Planner<'_>) {
    let org = p.org();
    p.step("primary_keys", Mode::Statements);
    for table in p.existing_tenants() {
        let t = table.name.as_str();
        let key: Vec<&str> = std::iter::once(org).chain(table.key_names()).collect();
        let old = p.catalog.primary_key(t);
        if old.is_some_and(|pk| pk.columns == key) {
            continue;
        }
        let name = names::primary_key(t);
        p.up(
            Ddl::ReplacePrimaryKey {
                table: t.to_owned(),
                drop: old.map(|pk| pk.name.clone()),
                name: name.clone(),
                index: names::primary_key_replacement(t),
            },
            None,
        );
        // Back to the legacy key; CASCADE takes the composite foreign keys on it with it
        // (tenant_fks' down drops them anyway, and restores the plain ones).
        let mut down = vec![Ddl::DropConstraint { table: t.to_owned(), name, if_exists: true, cascade: true }];
        down.extend(old.and_then(|pk| p.restore_constraint(t, &pk.name, &pk.name)));
        p.down(Ddl::Sequence(down));
    }
    p.finish();
}
