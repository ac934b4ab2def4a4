//! Running a backfill ([`Spec`], planned and written by tenancy-codegen): batch after batch,
//! each its own short transaction, with a progress bar; then the rows the strategy could not
//! place, which stop the run with their keys — before `SET NOT NULL`, never assigned silently.

use super::retry::Retry;
use crate::error::{Error, Result, UnplacedRows};
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{PgConnection, RunQueryDsl};
pub use tenancy_codegen::convert::backfill::{MARKER, Spec};
use tenancy_codegen::sql::ident;

#[derive(diesel::QueryableByName)]
struct Size {
    #[diesel(sql_type = BigInt)]
    pages: i64,
    #[diesel(sql_type = Nullable<diesel::sql_types::Double>)]
    rows_per_page: Option<f64>,
}

#[derive(diesel::QueryableByName)]
struct Batch {
    #[diesel(sql_type = BigInt)]
    scanned: i64,
    #[diesel(sql_type = BigInt)]
    filled: i64,
}

#[derive(diesel::QueryableByName)]
struct Swept {
    #[diesel(sql_type = BigInt)]
    unplaced: i64,
    #[diesel(sql_type = BigInt)]
    filled: i64,
}

#[derive(diesel::QueryableByName)]
struct Unplaced {
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = Text)]
    key: String,
}

/// What a backfill did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filled {
    /// Rows that needed an organization when the pass read their pages.
    pub scanned: i64,
    pub filled: i64,
    /// Rows that had an organization that does not exist, now placed by the strategy.
    pub moved: i64,
    /// Rows placed by the sweeps after the pass (a concurrent update had moved them behind it).
    pub swept: i64,
}

impl Filled {
    fn add(&mut self, batch: &Batch) {
        self.scanned += batch.scanned;
        self.filled += batch.filled;
    }
}

/// How many sweeps that place less than a batch, at most.
const SWEEPS: usize = 10;

/// Runs the backfill batch by batch with a progress bar on stderr; fails with the keys of rows
/// the strategy could not place.
pub fn run(conn: &mut PgConnection, spec: &Spec, retry: &Retry, log: &mut dyn FnMut(&str)) -> Result<Filled> {
    // For the whole backfill, then as they were: row-level security off (each batch then fails
    // loudly, instead of filtering, if it applies to this role), so that a batch is one
    // statement, its own transaction; and the tables' schema first on the search path.
    let path = format!("{}, public", ident(&spec.schema));
    let mut settings = vec![("row_security", "off")];
    if spec.schema != "public" {
        settings.push(("search_path", path.as_str()));
    }
    crate::db::with_settings(conn, &settings, |conn| run_with_settings(conn, spec, retry, log))
}

/// How many keys of rows naming a missing organization the log shows.
const LOGGED_KEYS: usize = 20;

/// Rows naming an organization that does not exist, as the declaration says (`missing_org`):
/// deleted (one statement), or logged before the strategy places them; left otherwise (they
/// stop the run with their keys after the batches). Returns how many the strategy is to place.
fn missing_organizations(conn: &mut PgConnection, spec: &Spec, doing: &str, log: &mut dyn FnMut(&str)) -> Result<i64> {
    let shown = |keys: &[String]| {
        let more = if keys.len() > LOGGED_KEYS { ", ..." } else { "" };
        format!("{} {}{more}", spec.key_label(), keys.iter().take(LOGGED_KEYS).cloned().collect::<Vec<_>>().join(", "))
    };
    if let Some(sql) = spec.delete_missing_sql() {
        #[derive(diesel::QueryableByName)]
        struct Key {
            #[diesel(sql_type = Text)]
            key: String,
        }
        // One statement (row_security is off for the whole backfill: `run`).
        let deleted: Vec<String> = diesel::sql_query(&sql)
            .load::<Key>(conn)
            .map_err(|e| Error::query(format!("{doing}: deleting rows of organizations that do not exist"), e))?
            .into_iter()
            .map(|k| k.key)
            .collect();
        if !deleted.is_empty() {
            log(&format!(
                "deleted {} rows of {} naming an organization that does not exist (missing_org = \"delete\"): {}",
                deleted.len(),
                spec.table,
                shown(&deleted)
            ));
        }
    } else if spec.missing_org == Some(tenancy_schema::MissingOrg::Reassign) {
        let found = diesel::sql_query(spec.missing_keys_sql(LOGGED_KEYS as u32 + 1))
            .load::<Unplaced>(conn)
            .map_err(|e| Error::query(format!("{doing}: reading rows of organizations that do not exist"), e))?;
        if let Some(first) = found.first() {
            let keys: Vec<String> = found.iter().map(|u| u.key.clone()).collect();
            log(&format!(
                "{} rows of {} name an organization that does not exist; placed by the strategy (missing_org = \"reassign\"): {}",
                first.count,
                spec.table,
                shown(&keys)
            ));
            return Ok(first.count);
        }
    }
    Ok(0)
}

fn run_with_settings(conn: &mut PgConnection, spec: &Spec, retry: &Retry, log: &mut dyn FnMut(&str)) -> Result<Filled> {
    let doing = format!("backfilling {}.{}", spec.table, spec.column);
    let missing = missing_organizations(conn, spec, &doing, log)?;
    let size = diesel::sql_query(format!(
        "SELECT (pg_relation_size(c.oid) / current_setting('block_size')::int)::bigint AS pages,
                CASE WHEN c.reltuples > 0 AND c.relpages > 0 THEN (c.reltuples / c.relpages)::float8 END AS rows_per_page
         FROM pg_class c WHERE c.oid = {}::regclass",
        tenancy_codegen::sql::literal(&ident(&spec.table))
    ))
    .get_result::<Size>(conn)
    .map_err(|e| Error::query(doing.clone(), e))?;
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(size.pages as u64), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {human_pos}/{human_len} pages  {per_sec}  ETA {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("backfill {}", spec.table));
    let mut filled = Filled { moved: missing, ..Filled::default() };
    // The pages the table had when the backfill started, by ranges of about `batch_size` rows:
    // the range adapts to the rows the last one held (at most 4 times larger each step, so a
    // run of empty pages does not make the next range cover a dense part whole).
    let target = i64::from(spec.batch_size.max(1));
    let mut pages = size.rows_per_page.map_or(1, |per_page| ((target as f64 / per_page.max(1.0)) as i64).max(1));
    let sql = spec.range_sql();
    let mut first = 0_i64;
    while first < size.pages {
        let end = (first + pages).min(size.pages);
        let batch = retry.run(&doing, log, &mut *conn, |conn| {
            diesel::sql_query(&sql)
                .bind::<Text, _>(format!("({first},0)"))
                .bind::<Text, _>(format!("({end},0)"))
                .get_result::<Batch>(conn)
        })?;
        filled.add(&batch);
        bar.inc((end - first) as u64);
        let next = (end - first) as f64 * target as f64 / batch.scanned.max(1) as f64;
        pages = (next as i64).clamp(1, (end - first) * 4);
        first = end;
    }
    // Then one scan for the rows still unplaced: none, as a rule. Rows a concurrent update moved
    // (to a page already passed, or past the last one) while still without an organization are
    // placed by the same scan, up to a batch; it goes on while a scan finds rows it could not
    // place (more than a batch, or rows moved again meanwhile), until one places none; after
    // SWEEPS scans that placed less than a batch (rows keep moving under a writer), what is left
    // stops the run with its keys.
    let sweep = spec.sweep_sql();
    let mut partial = 0;
    let last = loop {
        let swept = retry.run(&doing, log, &mut *conn, |conn| {
            diesel::sql_query(&sweep).bind::<Integer, _>(target as i32).get_result::<Swept>(conn)
        })?;
        filled.filled += swept.filled;
        filled.swept += swept.filled;
        if swept.filled == swept.unplaced || swept.filled == 0 || partial == SWEEPS {
            break swept;
        }
        partial += usize::from(swept.filled < target);
    };
    // Rows left: named by one more scan.
    let unplaced = if last.filled == last.unplaced {
        Vec::new()
    } else {
        diesel::sql_query(spec.unplaced_sql())
            .load::<Unplaced>(conn)
            .map_err(|e| Error::query(format!("counting rows {doing} could not place"), e))?
    };
    bar.finish_and_clear();
    let mut of_which = Vec::new();
    if filled.moved > 0 {
        of_which.push(format!("{} had an organization that does not exist", filled.moved));
    }
    if filled.swept > 0 {
        of_which.push(format!("{} were swept up after the pass (a concurrent update had moved them)", filled.swept));
    }
    log(&format!(
        "backfilled {}.{} {}: {} rows to place, {} placed{}",
        spec.table,
        spec.column,
        spec.strategy,
        filled.scanned,
        filled.filled,
        if of_which.is_empty() { String::new() } else { format!(", of which {}", of_which.join("; ")) }
    ));
    if let Some(first) = unplaced.first() {
        let keys: Vec<&str> = unplaced.iter().map(|u| u.key.as_str()).collect();
        let more = if first.count > keys.len() as i64 { ", ..." } else { "" };
        return Err(Error::Unplaced(vec![UnplacedRows {
            what: format!("{}.{} {}", spec.table, spec.column, spec.strategy),
            count: first.count,
            keys: format!("{} {}{more}", spec.key_label(), keys.join(", ")),
        }]));
    }
    Ok(filled)
}
