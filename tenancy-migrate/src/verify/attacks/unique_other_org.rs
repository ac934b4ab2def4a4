//! `unique_other_org`: the unique-key existence oracle. A inserts a row of its own that repeats
//! B's sample row in every column (its key too), with A's organization and A's parents. If a
//! unique key or primary key without the organization column refuses it, the error tells A
//! that B holds those values. A unique violation on a key that includes the organization column
//! can only come from A's own rows, and is no oracle.

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::{FailureKind, Probe};
use tenancy_codegen::sql::literal;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    if x.is_root() {
        return Err("the app role may not create organizations (not granted)".to_owned());
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
                x.samples.key(&reference.table, Org::A).map_or(serde_json::Value::Null, Into::into);
        }
    }
    let t = x.t();
    let sql = format!(
        "INSERT INTO {t} OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_record(NULL::{t}, {}::jsonb)",
        literal(&copy.to_string())
    );
    let (mut evidence, observed) = x.probe(&Probe::write(x.claim_a(), sql, x.watch(Org::A)));
    let Some(failure) = observed.answer.failed() else {
        return Ok((evidence, Outcome::Blocked));
    };
    if failure.kind != FailureKind::UniqueViolation {
        evidence.result.push_str("\nthe copy could not be inserted for another reason, so the oracle was not tested");
        return Ok((evidence, Outcome::Error));
    }
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
    Ok((evidence, if org_scoped { Outcome::Blocked } else { Outcome::Leaked }))
}
