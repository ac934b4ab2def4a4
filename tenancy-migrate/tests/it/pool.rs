//! Pooled connections: 8 tenants interleaving requests over an r2d2 pool of 2 connections as
//! the app role. Through the org-scoped API (claim set transaction-locally) no request ever sees
//! or changes another tenant's rows. The classic mistake (a session-level `SET`, injected or
//! careless) leaks over a plain pool — shown, so these tests can fail — and never over the
//! generated pool (`models::pool`, reset on checkout); `OrgContext` refuses a connection that
//! carries such a claim.

use crate::support::{APP_LOGIN, TestDb, count};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tenancy_migrate::models::{OrgContext, VerifiedClaim, inserts, pool as reset_pool, schema};

const TENANTS: u128 = 8;
const ROWS_PER_TENANT: i64 = 20;

fn org(tenant: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(0xa000 + tenant)
}

/// A tenant's credential, as the application's authentication would verify it.
struct Session {
    org: uuid::Uuid,
}

impl VerifiedClaim for Session {
    fn verified_org_id(&self) -> uuid::Uuid {
        self.org
    }
}

/// The one shared user every contact points at.
const USER: uuid::Uuid = uuid::Uuid::from_u128(0xee);

fn setup(test: &str) -> (TestDb, Pool<ConnectionManager<PgConnection>>) {
    let db = setup_db(test);
    let manager = ConnectionManager::<PgConnection>::new(db.app_url());
    let pool = Pool::builder().max_size(2).build(manager).expect("pool");
    (db, pool)
}

fn setup_db(test: &str) -> TestDb {
    let db = TestDb::migrated(test);
    seed(&mut db.admin());
    db
}

/// The shared user and 8 organizations with their contacts.
fn seed(admin: &mut PgConnection) {
    admin.batch_execute(&format!("INSERT INTO users (id, email) VALUES ('{USER}', 'pool@example.com')")).unwrap();
    for tenant in 0..TENANTS {
        let org = org(tenant);
        admin
            .batch_execute(&format!(
                "INSERT INTO organizations (id, name, slug) VALUES ('{org}', 'tenant {tenant}', 'tenant-{tenant}');
                 INSERT INTO contacts (org_id, user_id, full_name)
                   SELECT '{org}', '{USER}', 'contact ' || i FROM generate_series(1, {ROWS_PER_TENANT}) i;"
            ))
            .unwrap();
    }
}

#[derive(Default)]
struct Tally {
    ops: AtomicU64,
    /// Rows of another tenant returned, inserted, updated or deleted.
    foreign: AtomicU64,
    /// Rows a request without any organization could see.
    anonymous_seen: AtomicU64,
}

#[derive(QueryableByName)]
struct OrgRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    org_id: uuid::Uuid,
}

/// A request with no organization (a health check, a background job that forgot its claim).
fn anonymous_request<M: diesel::r2d2::ManageConnection<Connection = PgConnection>>(pool: &Pool<M>, tally: &Tally) {
    let mut conn = pool.get().unwrap();
    let seen = diesel::sql_query("SELECT org_id FROM contacts").load::<OrgRow>(&mut conn).unwrap();
    tally.anonymous_seen.fetch_add(seen.len() as u64, Ordering::Relaxed);
}

/// 8 tenants × `ops` mixed operations (read, insert, update, delete) through the org-scoped API,
/// with an anonymous request after every tenth. Returns the tally and every operation's latency.
fn run_scoped<M: diesel::r2d2::ManageConnection<Connection = PgConnection>>(
    pool: &Pool<M>,
    ops: u64,
) -> (Tally, Vec<Duration>) {
    let tally = Tally::default();
    let latencies = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for tenant in 0..TENANTS {
            let (tally, latencies) = (&tally, &latencies);
            scope.spawn(move || {
                let me = org(tenant);
                let context = OrgContext::from_claim(&Session { org: me }, &crate::support::models_key());
                let mut mine = Vec::new();
                for i in 0..ops {
                    let started = Instant::now();
                    let mut conn = pool.get().unwrap();
                    let foreign = context
                        .transaction::<_, diesel::result::Error, _>(&mut conn, |tx| {
                            let table = tx.contacts();
                            Ok(match i % 4 {
                                0 => {
                                    let orgs: Vec<uuid::Uuid> =
                                        table.select(schema::contacts::org_id).load(tx.conn())?;
                                    orgs.iter().filter(|o| **o != me).count()
                                }
                                1 => {
                                    let row = tx.insert_contact(inserts::NewContact {
                                        id: None,
                                        user_id: USER,
                                        full_name: format!("written by {tenant}"),
                                        email: None,
                                        phone_number: None,
                                        attributes: None,
                                        created_at: None,
                                    });
                                    let row = row?;
                                    mine.push(row.id);
                                    usize::from(row.org_id.as_uuid() != me)
                                }
                                2 => {
                                    let touched: Vec<uuid::Uuid> = diesel::update(table)
                                        .set(schema::contacts::email.eq(format!("touched by {tenant}")))
                                        .returning(schema::contacts::org_id)
                                        .get_results(tx.conn())?;
                                    touched.iter().filter(|o| **o != me).count()
                                }
                                _ => {
                                    let Some(id) = mine.pop() else { return Ok(0) };
                                    let gone: Vec<uuid::Uuid> =
                                        diesel::delete(table.filter(schema::contacts::id.eq(id)))
                                            .returning(schema::contacts::org_id)
                                            .get_results(tx.conn())?;
                                    gone.iter().filter(|o| **o != me).count()
                                }
                            })
                        })
                        .expect("a same-organization operation");
                    drop(conn);
                    latencies.lock().unwrap().push(started.elapsed());
                    tally.ops.fetch_add(1, Ordering::Relaxed);
                    tally.foreign.fetch_add(foreign as u64, Ordering::Relaxed);
                    if i % 10 == 9 {
                        anonymous_request(pool, tally);
                    }
                }
            });
        }
    });
    (tally, latencies.into_inner().unwrap())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

#[test]
fn pooled_requests_through_the_org_scoped_api_never_cross_tenants() {
    let (db, plain) = setup("pool_scoped");
    let mut admin = db.admin();
    let ops = std::env::var("TENANCY_POOL_OPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    // The plain pool first, for the cost of the reset on checkout (printed below).
    let (_, mut plain_latencies) = run_scoped(&plain, ops / 4);
    plain_latencies.sort();
    let pool = reset_pool::pool(&db.app_url(), 2).expect("pool");
    let started = Instant::now();
    let (tally, mut latencies) = run_scoped(&pool, ops);
    let elapsed = started.elapsed();
    latencies.sort();
    assert_eq!(tally.ops.load(Ordering::Relaxed), TENANTS as u64 * ops);
    assert_eq!(tally.foreign.load(Ordering::Relaxed), 0, "no request saw or changed another tenant's row");
    assert_eq!(tally.anonymous_seen.load(Ordering::Relaxed), 0, "a request without a claim sees nothing");
    // Every update stayed in its own organization (checked as the superuser, over all rows).
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) AS n FROM contacts c JOIN organizations o ON o.id = c.org_id \
             WHERE c.email LIKE 'touched by %' AND o.slug <> 'tenant-' || substr(c.email, 12)"
        ),
        0
    );
    assert!(count(&mut admin, "SELECT count(*) AS n FROM contacts WHERE email LIKE 'touched by %'") > 0);
    println!(
        "pool load (reset on checkout): {TENANTS} tenants x {ops} ops over 2 connections in {:.2} s ({:.0} ops/s); p50 {:.2} ms, p99 {:.2} ms (plain pool: p50 {:.2} ms, p99 {:.2} ms); foreign rows 0, anonymous rows seen 0",
        elapsed.as_secs_f64(),
        (TENANTS as u64 * ops) as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&plain_latencies, 0.5),
        percentile(&plain_latencies, 0.99)
    );
}

/// The same load through a Citus coordinator: the claim reaches the shards on the workers,
/// and no request sees or changes another tenant's rows.
#[test]
fn pooled_requests_through_a_citus_coordinator_never_cross_tenants() {
    let (admin_url, app_url) = crate::citus::migrated("citus_pool");
    let mut admin = PgConnection::establish(&admin_url).unwrap();
    seed(&mut admin);
    let ops = std::env::var("TENANCY_POOL_OPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let pool = reset_pool::pool(&app_url, 2).expect("pool");
    let started = Instant::now();
    let (tally, mut latencies) = run_scoped(&pool, ops);
    let elapsed = started.elapsed();
    latencies.sort();
    assert_eq!(tally.ops.load(Ordering::Relaxed), TENANTS as u64 * ops);
    assert_eq!(tally.foreign.load(Ordering::Relaxed), 0, "no request saw or changed another tenant's row");
    assert_eq!(tally.anonymous_seen.load(Ordering::Relaxed), 0, "a request without a claim sees nothing");
    assert!(count(&mut admin, "SELECT count(*) AS n FROM contacts WHERE email LIKE 'touched by %'") > 0);
    println!(
        "pool load through the Citus coordinator: {TENANTS} tenants x {ops} ops in {:.2} s ({:.0} ops/s); p50 {:.2} ms, p99 {:.2} ms; foreign rows 0",
        elapsed.as_secs_f64(),
        (TENANTS as u64 * ops) as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
}

/// 8 tenants each run a session-level `SET` of their claim on a pooled connection (the mistake),
/// then a request without a claim runs: returns the rows those requests saw.
fn session_set_then_anonymous<M: diesel::r2d2::ManageConnection<Connection = PgConnection>>(pool: &Pool<M>) -> u64 {
    let tally = Tally::default();
    std::thread::scope(|scope| {
        for tenant in 0..TENANTS {
            let tally = &tally;
            scope.spawn(move || {
                for _ in 0..20 {
                    let mut conn = pool.get().unwrap();
                    // The mistake: a session-level setting outlives the request on a pooled connection.
                    let token = crate::support::claim_sql(&org(tenant).to_string()).replacen("SET LOCAL", "SET", 1);
                    diesel::sql_query(token).execute(&mut *conn).unwrap();
                    let seen = diesel::sql_query("SELECT org_id FROM contacts").load::<OrgRow>(&mut *conn).unwrap();
                    assert!(seen.iter().all(|r| r.org_id == org(tenant)));
                    drop(conn);
                    anonymous_request(pool, tally);
                }
            });
        }
    });
    tally.anonymous_seen.load(Ordering::Relaxed)
}

#[test]
fn a_session_level_set_leaks_across_a_plain_pool() {
    let (_db, pool) = setup("pool_session_set");
    assert!(
        session_set_then_anonymous(&pool) > 0,
        "requests without a claim saw the previous tenant's rows on the same pooled connection"
    );
}

#[test]
fn the_generated_pool_resets_connections_so_a_session_set_never_reaches_the_next_request() {
    let db = setup_db("pool_reset");
    let pool = reset_pool::pool(&db.app_url(), 2).expect("pool");
    assert_eq!(session_set_then_anonymous(&pool), 0, "a reset connection carries no claim into the next request");
    // The reset also undoes a role switch and temporary objects of the previous request.
    {
        let mut conn = pool.get().unwrap();
        conn.batch_execute("SET ROLE NONE; CREATE TEMP TABLE left_behind (x int)").unwrap();
    }
    let mut conn = pool.get().unwrap();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM pg_class WHERE relname = 'left_behind'"), 0);
}

#[test]
fn org_context_refuses_a_connection_that_carries_a_claim() {
    let db = setup_db("pool_carried_claim");
    let context = OrgContext::from_claim(&Session { org: org(0) }, &crate::support::models_key());
    let run = |conn: &mut PgConnection| {
        context.transaction::<_, diesel::result::Error, _>(conn, |tx| {
            let table = tx.contacts();
            table.count().get_result::<i64>(tx.conn())
        })
    };
    let mut conn = db.app();
    assert_eq!(run(&mut conn).expect("a clean connection"), ROWS_PER_TENANT);
    // A session-level claim (as an injected statement would leave it): refused, nothing runs.
    let token = crate::support::claim_sql(&org(1).to_string()).replacen("SET LOCAL", "SET", 1);
    diesel::sql_query(token).execute(&mut conn).unwrap();
    let err = run(&mut conn).expect_err("a carried claim is refused");
    assert!(err.to_string().contains("already carries a claim"), "{err}");
    conn.batch_execute("RESET ALL").unwrap();
    assert_eq!(run(&mut conn).expect("after a reset"), ROWS_PER_TENANT);
    // A login default of the application's role in this database (ALTER ROLE ... SET) is a
    // carried claim too.
    let mut admin = db.admin();
    admin
        .batch_execute(&format!("ALTER ROLE {APP_LOGIN} IN DATABASE {} SET app.org_token = 'planted'", db.name))
        .unwrap();
    let mut fresh = db.app();
    let err = run(&mut fresh).expect_err("a claim from a role default is refused");
    assert!(err.to_string().contains("already carries a claim"), "{err}");
}
