//! Cutting the data checks into statements that each stay within the locks one transaction may
//! take.

use crate::error::{Error, Result};
use diesel::{PgConnection, RunQueryDsl};

/// The locks one transaction may take: `max_locks_per_transaction`, PostgreSQL's per-transaction
/// average of the shared lock table (default 64). Reading every table in one transaction would
/// hold a lock on each table and each of its indexes until the end: at a few thousand tables,
/// "out of shared memory" at default settings.
pub(super) fn lock_budget(conn: &mut PgConnection) -> Result<usize> {
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        locks: i32,
    }
    let setting = diesel::sql_query("SELECT current_setting('max_locks_per_transaction')::int AS locks")
        .get_result::<Setting>(conn)
        .map_err(|err| Error::query("reading max_locks_per_transaction", err))?;
    Ok(usize::try_from(setting.locks).unwrap_or(64).max(1))
}

/// `items` in order, cut into batches (one statement each) whose locks stay within `budget`:
/// the locks of a batch are those of the distinct tables its items read (`tables`), each costing
/// `locks` (a table and each of its indexes: the planner opens them). An item over the budget on
/// its own gets a batch of its own.
pub fn batches<'t, T>(
    items: &'t [T],
    tables: impl Fn(&'t T) -> Vec<&'t str>,
    locks: impl Fn(&str) -> usize,
    budget: usize,
) -> Vec<&'t [T]> {
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    let mut seen = std::collections::HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let new: Vec<&str> = tables(item).into_iter().filter(|t| !seen.contains(t)).collect();
        let mut cost: usize = new.iter().map(|t| locks(t)).sum();
        if i > start && used + cost > budget {
            out.push(&items[start..i]);
            (start, used) = (i, 0);
            seen.clear();
            cost = tables(item).iter().map(|t| locks(t)).sum();
        }
        used += cost;
        seen.extend(tables(item));
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::batches;

    #[test]
    fn batches_keep_each_statement_within_the_lock_budget() {
        // Tables named by their lock cost; each item reads one.
        let costs = ["5", "5", "5", "60", "70", "1", "1", "1"];
        let cost = |t: &str| t.parse::<usize>().unwrap();
        let one = |t: &&'static str| vec![*t];
        let cut = batches(&costs, one, cost, 64);
        // The three "5"s are one table read three times: 5 locks, then 60 would pass 64.
        assert_eq!(cut, vec![&costs[..3], &costs[3..4], &costs[4..5], &costs[5..]]);
        assert_eq!(cut.concat(), costs, "every item once, in order");
        assert!(batches(&[] as &[&str], one, cost, 64).is_empty());
        // 2,000 tables of 1 table + 4 indexes, each reading the one before and the organizations
        // (1 + 1 locks), at the default 64: the shared tables are counted once per batch.
        let names: Vec<String> = (0..2_000).map(|i| format!("t{i}")).collect();
        let items: Vec<usize> = (0..2_000).collect();
        let reads = |&i: &usize| {
            let mut tables = vec![names[i].as_str(), "organizations"];
            if i > 0 {
                tables.push(names[i - 1].as_str());
            }
            tables
        };
        let locks = |t: &str| if t == "organizations" { 2 } else { 5 };
        let cut = batches(&items, reads, locks, 64);
        assert_eq!(cut.concat(), items);
        for batch in &cut {
            let mut distinct: Vec<&str> = batch.iter().flat_map(reads).collect();
            distinct.sort();
            distinct.dedup();
            assert!(distinct.iter().map(|t| locks(t)).sum::<usize>() <= 64, "{batch:?}");
        }
        assert_eq!(cut.len(), 182, "11 tables a statement (12 in the first), where counting each read apart gave 5");
    }
}
