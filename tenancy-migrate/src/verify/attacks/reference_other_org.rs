//! `reference_other_org`: A inserts a row of its own that references B's parent row. A plain
//! foreign key accepts it (FK checks ignore row-level security), which also tells A that B's
//! row exists: the existence oracle. Composite `(org, key)` keys refuse it.

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::Probe;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    let schema = x.runner.schema;
    let table = x.table;
    let through = table.columns.iter().find(|c| {
        c.references
            .as_ref()
            .is_some_and(|r| r.table != table.name && schema.table(&r.table).is_some_and(|p| p.is_tenant()))
    });
    let (true, Some(column)) = (table.is_tenant(), through) else {
        return Err("no reference to another tenant table".to_owned());
    };
    let row = x.row(Org::A, Org::B, Some((&column.name, Org::B)))?;
    let (evidence, observed) = x.probe(&Probe::write(x.claim_a(), row.sql(), x.watch(Org::A)));
    let outcome = if observed.changed() { Outcome::Leaked } else { Outcome::Blocked };
    Ok((evidence, outcome))
}
