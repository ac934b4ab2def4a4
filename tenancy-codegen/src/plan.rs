//! The planner: (current state, desired declaration) → the next migrations.
//!
//! `current` is the snapshot committed beside the last migration (`schema.json`), or `None` for
//! an empty database. Each migration carries the snapshot it leads to, so the whole history can
//! be re-rendered and compared with what is committed ([`render_history`]): a hand edit, or a
//! generator change that would alter an old migration, is detected instead of silently shipped.

use crate::ddl::Ddl;
use crate::error::{PlanError, Planning};
use crate::sql;
use tenancy_schema::{Schema, Scope, Table};

/// One diesel migration directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Directory name, `NNNN_summary`.
    pub name: String,
    pub up: String,
    pub down: String,
    /// `false` for steps PostgreSQL cannot run in a transaction (`CREATE INDEX CONCURRENTLY`).
    pub run_in_transaction: bool,
    /// The declaration state after this migration, stored as `schema.json`.
    pub snapshot: Schema,
}

/// Plans the migrations from `current` to `desired`, numbered from `next_number`.
/// Returns no migrations when nothing changed.
pub fn plan(current: Option<&Schema>, desired: &Schema, next_number: usize) -> Result<Vec<Migration>, PlanError> {
    let Some(current) = current else {
        return Ok(vec![initial(desired, next_number)]);
    };
    // How legacy rows find their organization is the conversion's business: a change there
    // alone is no migration.
    let without_conversion = |schema: &Schema| {
        let mut schema = schema.clone();
        for table in &mut schema.tables {
            (table.backfill, table.missing_org) = (None, None);
        }
        schema
    };
    if without_conversion(current) == without_conversion(desired) {
        return Ok(Vec::new());
    }
    let only_claim = tenancy_schema::Settings { claim: desired.settings.claim.clone(), ..current.settings.clone() };
    if current.settings != desired.settings && only_claim == desired.settings {
        return Ok(vec![claim_change(current, desired, next_number)]);
    }
    if current.settings != desired.settings {
        return Err(PlanError {
            planning: Planning::Migration,
            subject: "the workspace settings".to_owned(),
            message:
                "changing #![tenancy(...)] settings other than `claim` after the first migration is not supported yet"
                    .to_owned(),
            hint: "restore the previous settings, or write that migration by hand".to_owned(),
        });
    }
    let mut up = Vec::new();
    // Each change adds one group of down statements; groups run in reverse order of the changes.
    let mut down: Vec<Vec<Ddl>> = Vec::new();
    let mut summary = Vec::new();

    // Enum types: new ones created, labels appended; anything else is not a migration we write.
    let unsupported = |what: &str| PlanError {
        planning: Planning::Migration,
        subject: "the declared enum types".to_owned(),
        message: format!("{what} is not supported by the planner yet"),
        hint: "append labels instead, or declare a new enum type, or write that migration by hand".to_owned(),
    };
    for declared in &desired.enums {
        match current.enums.iter().find(|e| e.name == declared.name) {
            None => {
                up.push(Ddl::CreateEnum { name: declared.name.clone(), labels: declared.labels.clone() });
                down.push(vec![Ddl::DropEnum { name: declared.name.clone() }]);
                summary.push(format!("create_enum_{}", declared.name));
            }
            Some(before) if before.labels == declared.labels => {}
            Some(before) if declared.labels.starts_with(&before.labels) => {
                // PostgreSQL cannot drop an enum label: down leaves it.
                for label in &declared.labels[before.labels.len()..] {
                    up.push(Ddl::AddEnumValue { name: declared.name.clone(), label: label.clone() });
                }
                summary.push(format!("extend_enum_{}", declared.name));
            }
            Some(_) => return Err(unsupported(&format!("removing or reordering labels of enum `{}`", declared.name))),
        }
    }
    if current.enums.iter().any(|e| !desired.enums.iter().any(|d| d.name == e.name)) {
        return Err(unsupported("dropping a declared enum type"));
    }
    let added: Vec<&Table> =
        desired.tables_in_dependency_order().into_iter().filter(|t| current.table(&t.name).is_none()).collect();
    let existing: Vec<&str> =
        current.tables.iter().map(|t| t.name.as_str()).filter(|n| desired.table(n).is_some()).collect();
    let (created, deferred) = create_tables(desired, &added, &existing);
    if !added.is_empty() {
        up.extend(created);
        up.extend(deferred);
        down.push(vec![Ddl::DropTables {
            tables: added.iter().rev().map(|t| t.name.clone()).collect(),
            if_exists: false,
        }]);
        summary.extend(added.iter().map(|t| format!("create_{}", t.name)));
    }

    for table in &desired.tables {
        let Some(before) = current.table(&table.name) else {
            continue;
        };
        if before == table {
            continue;
        }
        let unsupported = |what: &str| PlanError {
            planning: Planning::Migration,
            subject: format!("table `{}`", table.name),
            message: format!("{what} is not supported by the planner yet"),
            hint: "keep the old shape and add a new table or column instead, or write that migration by hand"
                .to_owned(),
        };
        if before.schema != table.schema {
            return Err(unsupported("moving a table to another schema"));
        }
        let shareable = |scope: Scope| matches!(scope, Scope::Global | Scope::Shared | Scope::Internal);
        if before.scope != table.scope && !(shareable(before.scope) && shareable(table.scope)) {
            return Err(unsupported("changing a table's scope other than between global, shared and internal"));
        }
        if before.scope != table.scope || before.link != table.link {
            // Between global, shared and internal, or a new link: another policy, and the app
            // role's privileges where they differ.
            let (old, new) = (visibility(&current.settings, before), visibility(&desired.settings, table));
            let (had, has) = (sql::app_privileges(before.scope), sql::app_privileges(table.scope));
            let role = desired.settings.app_role.clone();
            let grant = |privileges: &[crate::ddl::Privilege]| {
                (!privileges.is_empty()).then(|| Ddl::Grant {
                    privileges: privileges.to_vec(),
                    table: table.name.clone(),
                    role: role.clone(),
                })
            };
            let (old_grant, new_grant) = if had == has { (None, None) } else { (grant(had), grant(has)) };
            up.extend(old.iter().rev().filter_map(Ddl::undo));
            up.extend(old_grant.as_ref().and_then(Ddl::undo));
            up.extend(new_grant.clone());
            up.extend(new.iter().cloned());
            let mut back: Vec<Ddl> = new.iter().rev().filter_map(Ddl::undo).collect();
            back.extend(new_grant.as_ref().and_then(Ddl::undo));
            back.extend(old_grant);
            back.extend(old);
            down.push(back);
            summary.push(format!("{}_{}", table.scope.name(), table.name));
        }
        if before.uniques != table.uniques
            || before.global_unique_keys() != table.global_unique_keys()
            || before.unique_expressions != table.unique_expressions
        {
            return Err(unsupported("changing unique keys"));
        }
        for column in &table.columns {
            match before.column(&column.name) {
                Some(old) if old == column => {}
                Some(_) => return Err(unsupported(&format!("changing column `{}`", column.name))),
                None if column.references.is_some() || column.unique || column.global_unique || column.key => {
                    return Err(unsupported(&format!("adding key, unique or referencing column `{}`", column.name)));
                }
                None if !column.nullable && column.default.is_none() => {
                    return Err(PlanError {
                        planning: Planning::Migration,
                        subject: format!("column `{}.{}`", table.name, column.name),
                        message: "a new NOT NULL column without a default would fail on existing rows".to_owned(),
                        hint:
                            "declare it as Option<...> (or give it #[default(\"...\")]), fill it, then make it required"
                                .to_owned(),
                    });
                }
                None => {
                    up.push(sql::add_column(table, column));
                    down.push(vec![sql::drop_column(table, column)]);
                    summary.push(format!("add_{}_{}", table.name, column.name));
                }
            }
        }
        for column in &before.columns {
            if table.column(&column.name).is_none() {
                if column.key || column.references.is_some() || column.unique || column.global_unique {
                    return Err(unsupported(&format!("dropping key, unique or referencing column `{}`", column.name)));
                }
                up.push(sql::drop_column(before, column));
                // The values are gone; down restores the column, nullable, so revert cannot fail.
                down.push(vec![sql::add_column(before, &tenancy_schema::Column { nullable: true, ..column.clone() })]);
                summary.push(format!("drop_{}_{}", table.name, column.name));
            }
        }
    }

    let removed: Vec<&Table> =
        current.tables_in_dependency_order().into_iter().rev().filter(|t| desired.table(&t.name).is_none()).collect();
    if !removed.is_empty() {
        up.push(Ddl::DropTables { tables: removed.iter().map(|t| t.name.clone()).collect(), if_exists: false });
        let remaining: Vec<&str> =
            current.tables.iter().map(|t| t.name.as_str()).filter(|n| desired.table(n).is_some()).collect();
        let restore: Vec<&Table> = removed.iter().rev().copied().collect();
        let (created, deferred) = create_tables(current, &restore, &remaining);
        down.push(created.into_iter().chain(deferred).collect());
        summary.extend(removed.iter().map(|t| format!("drop_{}", t.name)));
    }

    if up.is_empty() {
        // Only Rust-side facts changed (struct names, backfill strategies): record the new
        // snapshot with an empty migration so history stays a faithful log.
        summary.push("update_declaration".to_owned());
    }
    let name = migration_name(next_number, &summary);
    Ok(vec![Migration {
        up: file(desired, &name, &up, true),
        down: file(desired, &format!("{name} (down)"), &down.into_iter().rev().flatten().collect::<Vec<_>>(), true),
        name,
        run_in_transaction: true,
        snapshot: desired.clone(),
    }])
}

/// The full history implied by a list of snapshots: what `codegen` would write for each step.
/// Consecutive equal snapshots belong to one planning step (e.g. a transactional migration and
/// its non-transactional follow-up).
pub fn render_history(snapshots: &[Schema]) -> Result<Vec<Migration>, PlanError> {
    let mut migrations = Vec::new();
    let mut previous: Option<&Schema> = None;
    for (i, snapshot) in snapshots.iter().enumerate() {
        if i > 0 && Some(snapshot) == previous {
            continue;
        }
        migrations.extend(plan(previous, snapshot, migrations.len() + 1)?);
        previous = Some(snapshot);
    }
    Ok(migrations)
}

/// The files of a migration directory, as (file name, contents).
pub fn migration_files(migration: &Migration) -> Vec<(&'static str, String)> {
    let snapshot = serde_json::to_string_pretty(&migration.snapshot).expect("schemas serialize");
    vec![
        ("up.sql", migration.up.clone()),
        ("down.sql", migration.down.clone()),
        (
            "metadata.toml",
            format!(
                "# Generated by `cargo xtask codegen`. Do not edit by hand.\nrun_in_transaction = {}\n",
                migration.run_in_transaction
            ),
        ),
        ("schema.json", format!("{snapshot}\n")),
    ]
}

/// Reads a `schema.json` written by [`migration_files`].
pub fn parse_snapshot(text: &str) -> Result<Schema, serde_json::Error> {
    serde_json::from_str(text)
}

fn initial(schema: &Schema, number: usize) -> Migration {
    let settings = &schema.settings;
    let tables = schema.tables_in_dependency_order();
    let mut up = sql::ensure_app_role(schema);
    if settings.claim.is_signed() {
        up.extend(sql::claim_keys());
    }
    up.extend(sql::auth_org_id(settings, false));
    up.push(sql::immutability_function(settings, false));
    up.extend(schema.enums.iter().map(|e| Ddl::CreateEnum { name: e.name.clone(), labels: e.labels.clone() }));
    let (created, deferred) = create_tables(schema, &tables, &[]);
    up.extend(created);
    up.extend(deferred);

    let mut down =
        vec![Ddl::DropTables { tables: tables.iter().rev().map(|t| t.name.clone()).collect(), if_exists: false }];
    down.extend(schema.enums.iter().map(|e| Ddl::DropEnum { name: e.name.clone() }));
    down.extend(sql::drop_functions());
    if settings.claim.is_signed() {
        down.extend(sql::drop_claim_keys());
    }
    // The role is cluster-wide and may serve other databases, so revert keeps it.
    down.extend(sql::drop_app_role_grants(schema));

    let name = migration_name(number, &["initial".to_owned()]);
    Migration {
        up: file(schema, &name, &up, true),
        down: file(schema, &format!("{name} (down)"), &down, true),
        name,
        run_in_transaction: true,
        snapshot: schema.clone(),
    }
}

/// A change of claim preset: `auth_org_id()` replaced in place (same signature, so every policy
/// keeps working), with the signed preset's key table created or dropped.
fn claim_change(current: &Schema, desired: &Schema, number: usize) -> Migration {
    let (old, new) = (&current.settings, &desired.settings);
    let switch = |from: &tenancy_schema::Settings, to: &tenancy_schema::Settings| {
        let mut statements = Vec::new();
        if to.claim.is_signed() && !from.claim.is_signed() {
            statements.extend(sql::claim_keys());
        }
        statements.extend(sql::auth_org_id(to, true));
        if from.claim.is_signed() && !to.claim.is_signed() {
            statements.extend(sql::drop_claim_keys());
        }
        statements
    };
    let preset = match &new.claim {
        tenancy_schema::Claim::Signed(_) => "signed",
        tenancy_schema::Claim::Postgrest => "postgrest",
        tenancy_schema::Claim::Setting(_) => "setting",
    };
    let name = migration_name(number, &[format!("claim_{preset}")]);
    Migration {
        up: file(desired, &name, &switch(old, new), true),
        down: file(desired, &format!("{name} (down)"), &switch(new, old), true),
        name,
        run_in_transaction: true,
        snapshot: desired.clone(),
    }
}

/// What decides which rows of `table` the app role sees: row-level security and its policy.
fn visibility(settings: &tenancy_schema::Settings, table: &Table) -> Vec<Ddl> {
    sql::security(settings, table)
        .into_iter()
        .filter(|s| matches!(s, Ddl::EnableRls { .. } | Ddl::ForceRls { .. } | Ddl::CreatePolicy(_)))
        .collect()
}

/// Creates `tables` in order; foreign keys to tables not yet created come back as deferred
/// `ALTER TABLE` statements to run after all of them.
fn create_tables(schema: &Schema, tables: &[&Table], existing: &[&str]) -> (Vec<Ddl>, Vec<Ddl>) {
    let mut created: Vec<&str> = existing.to_vec();
    let mut statements = Vec::new();
    let mut deferred = Vec::new();
    for table in tables {
        let (create, later) = sql::create_table(schema, table, &created);
        statements.extend(create);
        deferred.extend(later);
        // A shared table's policy reads its link table, which may come later.
        if table.scope == Scope::Shared {
            deferred.extend(sql::security(&schema.settings, table));
        } else {
            statements.extend(sql::security(&schema.settings, table));
        }
        created.push(&table.name);
    }
    (statements, deferred)
}

fn migration_name(number: usize, summary: &[String]) -> String {
    let mut text = match summary {
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first}_and_{}_more", rest.len()),
        [] => "empty".to_owned(),
    };
    text.truncate(60);
    format!("{number:04}_{text}")
}

fn file(schema: &Schema, title: &str, statements: &[Ddl], in_transaction: bool) -> String {
    let mut out = sql::header(sql::BY_CODEGEN, title, in_transaction, "5s", "5min", &schema.schemas());
    for statement in statements {
        out.push_str(&format!("\n{statement}\n"));
    }
    out
}
