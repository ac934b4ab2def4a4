//! Running a backfill ([`Spec`], planned and written by tenancy-codegen): batch after batch,
//! each its own short transaction, with a progress bar; then the rows the strategy could not
//! place, which stop the run with their keys — before `SET NOT NULL`, never assigned silently.

use super::retry::Retry;
use crate::error::{Error, Result, UnplacedRows};
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{Connection, PgConnection, RunQueryDsl};
pub use tenancy_codegen::convert::backfill::{MARKER, Spec};
use tenancy_codegen::sql::ident;

#[derive(diesel::QueryableByName)]
struct Batch {
    #[diesel(sql_type = Nullable<Text>)]
    last: Option<String>,
    #[diesel(sql_type = BigInt)]
    scanned: i64,
    #[diesel(sql_type = BigInt)]
    filled: i64,
    #[diesel(sql_type = BigInt)]
    moved: i64,
}

#[derive(diesel::QueryableByName)]
struct Unplaced {
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = Text)]
    key: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// What a backfill did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filled {
    pub scanned: i64,
    pub filled: i64,
    /// Rows that had an organization that does not exist, now placed by the strategy.
    pub moved: i64,
}

/// Runs the backfill batch by batch with a progress bar on stderr; fails with the keys of rows
/// the strategy could not place.
pub fn run(conn: &mut PgConnection, spec: &Spec, retry: &Retry, log: &mut dyn FnMut(&str)) -> Result<Filled> {
    if spec.schema == "public" {
        return run_on_search_path(conn, spec, retry, log);
    }
    // The tables' schema first on the search path for the backfill, then as it was.
    let set = |conn: &mut PgConnection, path: &str| {
        diesel::sql_query(format!("SELECT set_config('search_path', {}, false)", tenancy_codegen::sql::literal(path)))
            .execute(conn)
            .map_err(|e| Error::query("setting the search path", e))
    };
    #[derive(diesel::QueryableByName)]
    struct Path {
        #[diesel(sql_type = diesel::sql_types::Text)]
        path: String,
    }
    let old = diesel::sql_query("SELECT current_setting('search_path') AS path")
        .get_result::<Path>(conn)
        .map_err(|e| Error::query("reading the search path", e))?
        .path;
    set(conn, &format!("{}, public", ident(&spec.schema)))?;
    let result = run_on_search_path(conn, spec, retry, log);
    set(conn, &old)?;
    result
}

/// How many keys of rows naming a missing organization the log shows.
const LOGGED_KEYS: usize = 20;

/// Rows naming an organization that does not exist, as the declaration says (`missing_org`):
/// deleted (one statement), or logged before the strategy places them; left otherwise (they
/// stop the run with their keys after the batches).
fn missing_organizations(conn: &mut PgConnection, spec: &Spec, doing: &str, log: &mut dyn FnMut(&str)) -> Result<()> {
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
        let deleted: Vec<String> = conn
            .transaction(|conn| {
                diesel::sql_query("SET LOCAL row_security = off").execute(conn)?;
                diesel::sql_query(&sql).load::<Key>(conn)
            })
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
        }
    }
    Ok(())
}

fn run_on_search_path(
    conn: &mut PgConnection,
    spec: &Spec,
    retry: &Retry,
    log: &mut dyn FnMut(&str),
) -> Result<Filled> {
    let doing = format!("backfilling {}.{}", spec.table, spec.column);
    missing_organizations(conn, spec, &doing, log)?;
    let total = diesel::sql_query(format!("SELECT count(*) AS count FROM {}", ident(&spec.table)))
        .get_result::<Count>(conn)
        .map_err(|e| Error::query(doing.clone(), e))?
        .count;
    let bar = indicatif::ProgressBar::with_draw_target(Some(total as u64), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {human_pos}/{human_len} rows  {per_sec}  ETA {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("backfill {}", spec.table));
    let sql = spec.batch_sql();
    let mut last: Option<String> = None;
    let mut filled = Filled::default();
    loop {
        let batch = retry.run(&doing, log, &mut *conn, |conn| {
            conn.transaction(|conn| {
                // Fails loudly, instead of filtering, if row-level security applies to this role.
                diesel::sql_query("SET LOCAL row_security = off").execute(conn)?;
                diesel::sql_query(&sql)
                    .bind::<Nullable<Text>, _>(last.clone())
                    .bind::<Integer, _>(spec.batch_size as i32)
                    .get_result::<Batch>(conn)
            })
        })?;
        filled.scanned += batch.scanned;
        filled.filled += batch.filled;
        filled.moved += batch.moved;
        bar.inc(batch.scanned as u64);
        if batch.last.is_none() || batch.scanned < i64::from(spec.batch_size) {
            break;
        }
        last = batch.last;
    }
    bar.finish_and_clear();
    log(&format!(
        "backfilled {}.{} {}: {} rows read, {} placed{}",
        spec.table,
        spec.column,
        spec.strategy,
        filled.scanned,
        filled.filled,
        if filled.moved > 0 {
            format!(", of which {} had an organization that does not exist", filled.moved)
        } else {
            String::new()
        }
    ));
    let unplaced = diesel::sql_query(spec.unplaced_sql())
        .load::<Unplaced>(conn)
        .map_err(|e| Error::query(format!("counting rows {doing} could not place"), e))?;
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
