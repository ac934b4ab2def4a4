//! The backfill's batches by physical position (`ctid` ranges) under a writer that keeps moving
//! rows the pass has not placed yet: the rows it moves behind the pass are swept up after it, so
//! every row is placed and keeps what the writer wrote.

use crate::support::{TestDb, apply_under_writer};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tenancy_migrate::convert::{self, run};

const ROWS: i64 = 40_000;

const DECLARATION: &str = r#"
#[tenancy(root)]
struct Organization { #[key] id: Uuid, name: String }
#[tenancy(global)]
struct User { #[key] id: i64, #[references(organizations)] default_org_id: Option<Uuid> }
#[tenancy(tenant, table = "events")]
#[backfill(via = "user_id -> users.default_org_id")]
struct Event { #[key] id: i64, #[references(users)] user_id: i64, payload: String }
"#;

#[test]
fn rows_a_writer_moves_behind_the_pass_are_swept_up() {
    let schema = tenancy_schema::parse_str("sweep.rs", DECLARATION).unwrap_or_else(|e| panic!("{e}"));
    let db = TestDb::new("backfill_sweep");
    db.admin()
        .batch_execute(&format!(
            "CREATE TABLE organizations (id uuid PRIMARY KEY, name text NOT NULL);
             INSERT INTO organizations SELECT ('00000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid, 'org ' || o
               FROM generate_series(1, 3) o;
             CREATE TABLE users (id bigint PRIMARY KEY, default_org_id uuid REFERENCES organizations (id));
             INSERT INTO users SELECT u, ('00000000-0000-4000-8000-' || lpad((1 + u % 3)::text, 12, '0'))::uuid
               FROM generate_series(1, 100) u;
             CREATE TABLE events (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id), payload text NOT NULL);
             INSERT INTO events SELECT e, 1 + e % 100, 'event ' || e FROM generate_series(1, {ROWS}) e;"
        ))
        .unwrap();
    db.admin().batch_execute("VACUUM ANALYZE events").unwrap();
    let options = convert::Options { batch_size: 200, replace_access: true, ..convert::Options::default() };
    let plan = convert::plan_database(&mut db.admin(), &schema, "public", &options).unwrap_or_else(|e| panic!("{e}"));
    let dir = crate::support::plan_dir("backfill_sweep");
    convert::write(&plan, &options, &dir).unwrap();
    // From the last row down, each row once: its new version, too large for its full page, goes
    // to the end of the table, past the pages the pass started with.
    let (result, log) = apply_under_writer(
        &db,
        |n| format!("UPDATE events SET payload = repeat('w', 600) WHERE id = {}", ROWS - n as i64),
        |log| run::apply_dir(&mut db.admin(), &dir, run::RunOptions::default(), log),
    );
    result.unwrap_or_else(|e| panic!("apply: {e}\n{log:#?}"));
    let line = log.iter().find(|l| l.starts_with("backfilled events.org_id")).unwrap_or_else(|| panic!("{log:#?}"));
    assert!(line.contains(&format!("{ROWS} placed")), "{line}");
    assert!(line.contains("swept up after the pass"), "the writer moved rows behind the pass: {line}");
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        rows: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        misplaced: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        written: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        changed: i64,
    }
    let check = diesel::sql_query(
        "SELECT count(*) AS rows,
                count(*) FILTER (WHERE e.org_id IS DISTINCT FROM u.default_org_id) AS misplaced,
                count(*) FILTER (WHERE e.payload = repeat('w', 600)) AS written,
                count(*) FILTER (WHERE e.payload NOT IN (repeat('w', 600), 'event ' || e.id)) AS changed
         FROM events e JOIN users u ON u.id = e.user_id",
    )
    .get_result::<Check>(&mut db.admin())
    .unwrap();
    assert_eq!((check.rows, check.misplaced, check.changed), (ROWS, 0, 0), "every row placed by its user, none lost");
    assert!(check.written > 0, "the writer's updates are kept");
}
