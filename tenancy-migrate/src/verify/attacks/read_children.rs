//! `read_children`: A reads the table's partitions and inheritance children directly. Policies
//! of the parent do not apply to a child queried on its own; a child without its own
//! row-level security shows every organization's rows. B's sample row is copied into each
//! inheritance child first (partitions hold it already).

use super::{Target, Verdict};
use crate::verify::Org;
use crate::verify::probe::{Probe, field, read};
use tenancy_codegen::sql::literal;
use tenancy_schema::report::Outcome;

pub fn run(x: &mut Target<'_, '_>) -> Verdict {
    x.per_org()?;
    let children = read(
        x.conn,
        &format!(
            "WITH RECURSIVE tree(oid) AS (SELECT {}::regclass::oid UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent = tree.oid)
             SELECT c.oid::regclass::text AS child, c.relispartition AS partition FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.oid
             WHERE c.oid <> {}::regclass::oid AND c.relkind IN ('r', 'p') ORDER BY 1",
            literal(&x.t()),
            literal(&x.t())
        ),
    )?;
    if children.is_empty() {
        return Err("no partitions or inheritance children".to_owned());
    }
    let json = x.sample_json(Org::B)?;
    // Each child is read under the parent's name, so the ownership condition reads the same.
    let (own, t) = (x.belongs(Org::A), x.t());
    let mut counts = Vec::new();
    let mut probe_setup = Vec::new();
    for child in &children {
        let row: serde_json::Value = serde_json::from_str(child).map_err(|e| e.to_string())?;
        let name = row["child"].as_str().unwrap_or_default().to_owned();
        if row["partition"] == false {
            probe_setup.push(format!(
                "INSERT INTO {name} SELECT * FROM jsonb_populate_record(NULL::{name}, {}::jsonb)",
                literal(&json)
            ));
        }
        counts.push(format!("(SELECT count(*) FROM {name} AS {t} WHERE NOT coalesce({own}, false))"));
    }
    let mut probe = Probe::query(x.claim_a(), format!("SELECT {} AS other", counts.join(" + ")));
    for statement in probe_setup {
        probe = probe.setup(statement);
    }
    let (evidence, observed) = x.probe(&probe);
    let outcome = match field(&observed.answer, "other") {
        _ if observed.setup_failed() => Outcome::Error,
        Some(other) if other > 0 => Outcome::Leaked,
        _ => Outcome::Blocked,
    };
    Ok((evidence, outcome))
}
