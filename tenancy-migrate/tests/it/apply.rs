//! apply / revert / status on a real database: idempotence, round trips, dry-run, the lock.

use crate::support::{TestDb, exec, texts};
use diesel::PgConnection;
use tenancy_migrate::Error;
use tenancy_migrate::migrate::{self, LOCK_KEY, Wait};

/// Everything in schema public that a migration can change, rendered without OIDs.
fn catalog_fingerprint(conn: &mut PgConnection) -> Vec<String> {
    texts(
        conn,
        "SELECT t FROM ( \
           SELECT 'table ' || c.relname || ' rls=' || c.relrowsecurity || ' force=' || c.relforcerowsecurity || ' acl=' || coalesce(c.relacl::text, '') AS t \
             FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i', 'S', 'v') \
           UNION ALL SELECT 'column ' || attrelid::regclass || '.' || attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull || ' ' \
             || coalesce(pg_get_expr(d.adbin, d.adrelid), '') FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped \
           UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE connamespace = 'public'::regnamespace \
           UNION ALL SELECT 'index ' || indexrelid::regclass || ' ' || pg_get_indexdef(indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
             WHERE c.relnamespace = 'public'::regnamespace \
           UNION ALL SELECT 'policy ' || polrelid::regclass || ' ' || polname || ' ' || coalesce(pg_get_expr(polqual, polrelid), '') || ' ' \
             || coalesce(pg_get_expr(polwithcheck, polrelid), '') FROM pg_policy \
           UNION ALL SELECT 'trigger ' || tgrelid::regclass || ' ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal \
           UNION ALL SELECT 'function ' || proname || ' ' || pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = 'public'::regnamespace \
         ) f WHERE t NOT LIKE '%__diesel_schema_migrations%' ORDER BY t",
    )
}

/// Every committed migration, in order.
const ALL: [&str; 4] = ["0001_initial", "0002_claim_signed", "0003_shared_users", "0004_internal_admin_users"];

fn apply(conn: &mut PgConnection) -> Vec<String> {
    migrate::apply(conn, Wait::NoWait, false, &mut |_| {}).expect("apply").migrations
}

#[test]
fn apply_twice_is_a_no_op() {
    let db = TestDb::new("apply_twice");
    let mut conn = db.admin();
    assert_eq!(apply(&mut conn), ALL);
    let first = catalog_fingerprint(&mut conn);
    assert!(first.len() > 300, "the fingerprint sees the schema ({} lines)", first.len());
    assert!(apply(&mut conn).is_empty());
    assert_eq!(catalog_fingerprint(&mut conn), first);
}

#[test]
fn revert_then_apply_returns_to_the_same_catalog() {
    let db = TestDb::new("apply_roundtrip");
    let mut conn = db.admin();
    apply(&mut conn);
    let applied = catalog_fingerprint(&mut conn);
    let reverted = migrate::revert(&mut conn, true, Wait::NoWait, false, &mut |_| {}).unwrap();
    assert_eq!(reverted.migrations, ALL.iter().rev().copied().collect::<Vec<_>>());
    assert!(catalog_fingerprint(&mut conn).is_empty(), "revert --all leaves schema public empty");
    assert!(migrate::status(&mut conn).unwrap().iter().all(|m| !m.applied));
    apply(&mut conn);
    assert_eq!(catalog_fingerprint(&mut conn), applied);
}

#[test]
fn dry_run_changes_nothing_and_shows_the_sql() {
    let db = TestDb::new("apply_dry_run");
    let mut conn = db.admin();
    let outcome = migrate::apply(&mut conn, Wait::NoWait, true, &mut |_| {}).unwrap();
    assert_eq!(outcome.migrations, ALL);
    assert!(outcome.sql[0].contains("CREATE TABLE \"contacts\""));
    assert!(catalog_fingerprint(&mut conn).is_empty());
    assert!(migrate::status(&mut conn).unwrap().iter().all(|m| !m.applied));
}

#[test]
fn a_second_run_does_not_interleave() {
    let db = TestDb::new("apply_lock");
    let mut holder = db.admin();
    exec(&mut holder, &format!("SELECT pg_advisory_lock({LOCK_KEY})")).unwrap();
    let mut conn = db.admin();
    match migrate::apply(&mut conn, Wait::NoWait, false, &mut |_| {}) {
        Err(Error::LockHeld { pid }) => assert!(pid > 0, "names the holder"),
        other => panic!("expected LockHeld, got {other:?}"),
    }
    assert!(catalog_fingerprint(&mut conn).is_empty(), "nothing applied while locked");

    // Waiting: the second run blocks until the first releases, then applies.
    let url = db.admin_url();
    let waiter = std::thread::spawn(move || {
        let mut conn = tenancy_migrate::db::connect(&url).unwrap();
        let mut waited = false;
        let outcome =
            migrate::apply(&mut conn, Wait::Wait, false, &mut |line| waited |= line.contains("waiting")).unwrap();
        (waited, outcome.migrations)
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    exec(&mut holder, &format!("SELECT pg_advisory_unlock({LOCK_KEY})")).unwrap();
    let (waited, migrations) = waiter.join().unwrap();
    assert!(waited, "the waiting run says it waits");
    assert_eq!(migrations, ALL);
}
