//! Pooled connections: 8 tenants interleaving requests over an r2d2 pool of 2 connections as
//! the app role. Through the org-scoped API (claim set transaction-locally) no request ever sees
//! or changes another tenant's rows; the classic mistake (a session-level `SET`) is shown to leak,
//! so this test can fail.

use crate::support::{APP_PASSWORD, APP_ROLE, TestDb, count};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tenancy_migrate::models::{OrgContext, VerifiedClaim, inserts, schema};

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
    let db = TestDb::migrated(test);
    let mut admin = db.admin();
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
    let manager = ConnectionManager::<PgConnection>::new(db.url_as(APP_ROLE, APP_PASSWORD));
    let pool = Pool::builder().max_size(2).build(manager).expect("pool");
    (db, pool)
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
fn anonymous_request(pool: &Pool<ConnectionManager<PgConnection>>, tally: &Tally) {
    let mut conn = pool.get().unwrap();
    let seen = diesel::sql_query("SELECT org_id FROM contacts").load::<OrgRow>(&mut conn).unwrap();
    tally.anonymous_seen.fetch_add(seen.len() as u64, Ordering::Relaxed);
}

/// 8 tenants × `ops` mixed operations (read, insert, update, delete) through the org-scoped API,
/// with an anonymous request after every tenth. Returns the tally and every operation's latency.
fn run_scoped(pool: &Pool<ConnectionManager<PgConnection>>, ops: u64) -> (Tally, Vec<Duration>) {
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
    let (db, pool) = setup("pool_scoped");
    let mut admin = db.admin();
    let ops = std::env::var("TENANCY_POOL_OPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
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
        "pool load: {TENANTS} tenants x {ops} ops over 2 connections in {:.2} s ({:.0} ops/s); p50 {:.2} ms, p99 {:.2} ms; foreign rows 0, anonymous rows seen 0",
        elapsed.as_secs_f64(),
        (TENANTS as u64 * ops) as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
}

#[test]
fn a_session_level_set_leaks_across_pooled_requests() {
    let (_db, pool) = setup("pool_session_set");
    let tally = Tally::default();
    std::thread::scope(|scope| {
        for tenant in 0..TENANTS {
            let (pool, tally) = (&pool, &tally);
            scope.spawn(move || {
                for _ in 0..20 {
                    let mut conn = pool.get().unwrap();
                    // The mistake: a session-level setting outlives the request on a pooled connection.
                    let token = crate::support::claim_sql(&org(tenant).to_string()).replace(", true)", ", false)");
                    diesel::sql_query(token).execute(&mut conn).unwrap();
                    let seen = diesel::sql_query("SELECT org_id FROM contacts").load::<OrgRow>(&mut conn).unwrap();
                    assert!(seen.iter().all(|r| r.org_id == org(tenant)));
                    drop(conn);
                    anonymous_request(pool, tally);
                }
            });
        }
    });
    assert!(
        tally.anonymous_seen.load(Ordering::Relaxed) > 0,
        "requests without a claim saw the previous tenant's rows on the same pooled connection"
    );
}
