//! `unique_other_org`: the unique-key existence oracle. A inserts a row of its own that repeats
//! B's sample row in every column (its key too), with A's organization and A's parents. If a
//! unique key or primary key without the organization column refuses it, the error tells A
//! that B holds those values. A unique violation on a key that includes the organization column
//! can only come from A's own rows, and is no oracle.
//!
//! The organizations table cannot take A's inserts; there A updates its own organization to
//! B's values of each unique column (a slug). A refusal tells A that some organization holds
//! the value: by design for a declared global unique key (reported as info, with how to
//! reduce it), a leak for any other.

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::{FailureKind, Probe};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Evidence, Outcome};

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.writable()?;
    if x.is_root() {
        return root_oracle(x);
    }
    let schema = x.runner.schema;
    let mut copy: serde_json::Value = serde_json::from_str(&x.sample_json(Org::B)?).map_err(|e| e.to_string())?;
    copy[x.scope_name()] = x.runner.orgs[Org::A.index()].clone().into();
    for column in &x.table.columns {
        let Some(reference) = &column.references else { continue };
        let parent = schema.table(&reference.table).expect("validated reference");
        if reference.table == x.table.name {
            copy[column.name.as_str()] = serde_json::Value::Null;
        } else if parent.is_tenant() || parent.scope == tenancy_schema::Scope::Root {
            copy[column.name.as_str()] =
                x.samples.single_key(&reference.table, Org::A).map_or(serde_json::Value::Null, Into::into);
        }
    }
    let mut evidence = Evidence { sql: String::new(), result: String::new() };
    let mut declared_global = Vec::new();
    // A key declared global refuses B's value by design: noted, then the copy gets fresh values
    // there and is tried again, so an undeclared oracle behind it is still found.
    let failure = loop {
        let sql = x.insert_json(&copy.to_string())?;
        let (found, observed) = x.probe(&Probe::write(x.claim_a(), sql, x.watch(Org::A)));
        evidence.sql.push_str(&found.sql);
        evidence.result.push_str(&found.result);
        let Some(failure) = observed.answer.failed() else {
            if declared_global.is_empty() {
                return Ok((evidence, Outcome::Blocked));
            }
            evidence.result.push_str(&format!(
                "\n=> refused only on keys declared unique across organizations ({}): A learns that another organization holds these values. Declared, so info: keep such values unguessable",
                declared_global.join("; ")
            ));
            return Ok((evidence, Outcome::Info));
        };
        if failure.kind != FailureKind::UniqueViolation {
            evidence
                .result
                .push_str("\nthe copy could not be inserted for another reason, so the oracle was not tested");
            return Ok((evidence, Outcome::Error));
        }
        let global_key = failure.constraint.as_deref().and_then(|name| {
            let index = x.catalog.indexes_of(&x.table.name).find(|i| i.name == name)?;
            let columns: Vec<&str> = index.columns.iter().map(String::as_str).collect();
            if x.table.is_global_unique(&columns) {
                return Some(index.columns.clone());
            }
            // A declared global expression key: fresh values for the columns it reads.
            let expression = crate::scan::global_expression(x.table, &index.columns)?;
            let words: Vec<&str> = expression.sql.split(|c: char| !(c.is_alphanumeric() || c == '_')).collect();
            Some(x.table.columns.iter().filter(|c| words.contains(&c.name.as_str())).map(|c| c.name.clone()).collect())
        });
        let Some(columns) = global_key.filter(|c| !declared_global.contains(&c.join(", "))) else {
            break failure.clone();
        };
        evidence.sql.push('\n');
        evidence.result.push_str("\n=> a declared global key; again with fresh values in it:\n");
        for name in &columns {
            if let Some(column) = x.table.column(name) {
                copy[name.as_str()] = x.samples.fresh_key(column, Org::A).into();
            }
        }
        declared_global.push(columns.join(", "));
    };
    let scope = x.scope_name();
    let org_scoped = failure.constraint.as_deref().is_some_and(|name| {
        x.catalog.indexes_of(&x.table.name).any(|i| i.name == name && i.columns.iter().any(|c| c == scope))
    });
    evidence.result.push_str(&format!(
        "\n{} {} {}",
        failure.constraint.as_deref().unwrap_or("the violated key"),
        if org_scoped { "includes" } else { "does not include" },
        scope
    ));
    let outcome = match (org_scoped, declared_global.is_empty()) {
        (false, _) => Outcome::Leaked,
        (true, true) => Outcome::Blocked,
        (true, false) => {
            evidence.result.push_str(&format!(
                "\n=> declared global ({}): A learns that another organization holds these values (info)",
                declared_global.join("; ")
            ));
            Outcome::Info
        }
    };
    Ok((evidence, outcome))
}

/// A renames its own organization to B's unique values, one unique key at a time.
fn root_oracle(x: &mut Target<'_, '_>) -> Verdict {
    let json = x.sample_json(Org::B)?;
    let own_key = x.sample_key(Org::A);
    let t = x.t();
    let mut evidence = Evidence { sql: String::new(), result: String::new() };
    let mut outcome = Outcome::Blocked;
    let uniques: Vec<Vec<String>> = x
        .catalog
        .indexes_of(&x.table.name)
        .filter(|i| i.unique && !i.primary && i.valid && !i.columns.iter().any(|c| c.starts_with('(')))
        .map(|i| i.columns.clone())
        .collect();
    if uniques.is_empty() {
        return Err("no unique key besides the primary key".to_owned());
    }
    for columns in uniques {
        let set: Vec<String> = columns.iter().map(|c| format!("{} = {}", ident(c), x.constant(&json, c))).collect();
        let sql = format!("UPDATE {t} SET {} WHERE {}", set.join(", "), x.key_is(&own_key));
        let (found, observed) = x.probe(&Probe::write(x.claim_a(), sql, x.watch(Org::A)));
        evidence.sql.push_str(&format!("{}\n", found.sql));
        let unique = observed.answer.failed().is_some_and(|f| f.kind == FailureKind::UniqueViolation);
        let declared = columns.len() == 1 && x.table.column(&columns[0]).is_some_and(|c| c.unique);
        let verdict = match (unique, declared) {
            (false, _) => "no refusal for B's value: not an oracle",
            (true, true) => {
                if outcome == Outcome::Blocked {
                    outcome = Outcome::Info;
                }
                "refused: A learns that another organization holds this value. By design for a declared global unique key (the slug routes requests); use values that reveal nothing (random slugs), or make the key per organization"
            }
            (true, false) => {
                outcome = Outcome::Leaked;
                "refused on a unique key the declaration does not have: A learns another organization's value"
            }
        };
        evidence.result.push_str(&format!("{}\n=> {verdict}\n", found.result));
    }
    Ok((evidence, outcome))
}
