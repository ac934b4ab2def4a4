//! The cost of the signed claim: the pool workload of `tests/it/pool.rs` (8 tenants × 1,000
//! mixed operations, each its own transaction setting the claim, over a pool of 2 app-role
//! connections) on two databases of the same run — one with the signed claim (this workspace's
//! migrations), one with the unsigned setting (reverted to its first migration) — and the
//! per-statement cost (1,000 `SELECT count(*)` of a tenant table in one transaction).

use anyhow::{Context, Result};
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::{Connection, PgConnection, RunQueryDsl};
use std::time::{Duration, Instant};
use tenancy_codegen::claim::ClaimKey;
use tenancy_migrate::migrate::{self, Wait};

const TENANTS: u128 = 8;
const KEY: &str = "bench:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

pub(super) struct Figures {
    pub ops_per_s: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub per_statement: Duration,
}

pub fn run(admin: &str, ops: u64) -> Result<()> {
    let signed = prepare(admin, "bench_claim_signed", true)?;
    let unsigned = prepare(admin, "bench_claim_unsigned", false)?;
    let pool = |url: &str| Pool::builder().max_size(2).build(ConnectionManager::<PgConnection>::new(url));
    let (signed_pool, unsigned_pool) = (pool(&signed)?, pool(&unsigned)?);
    // Alternate, twice each, to spread the machine's noise over both.
    let mut results: Vec<(bool, Figures)> = Vec::new();
    for _ in 0..2 {
        results.push((false, workload(&unsigned_pool, false, ops)?));
        results.push((true, workload(&signed_pool, true, ops)?));
    }
    let best = |which: bool| -> &Figures {
        results
            .iter()
            .filter(|(s, _)| *s == which)
            .map(|(_, f)| f)
            .max_by(|a, b| a.ops_per_s.total_cmp(&b.ops_per_s))
            .expect("ran")
    };
    let (u, s) = (best(false), best(true));
    for (name, f) in [("unsigned (app.org_id)", u), ("signed (app.org_token)", s)] {
        println!(
            "  {name}: {:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms; per statement {:.1} µs",
            f.ops_per_s,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            f.per_statement.as_secs_f64() * 1e6
        );
    }
    println!(
        "  signed / unsigned: throughput {:.3}x ({:.1}% loss, goal <= 10%), per statement {:.2}x",
        s.ops_per_s / u.ops_per_s,
        (1.0 - s.ops_per_s / u.ops_per_s) * 100.0,
        s.per_statement.as_secs_f64() / u.per_statement.as_secs_f64()
    );
    Ok(())
}

/// A migrated database with two tenants' worth of rows, and the app role's URL.
pub(super) fn prepare(admin: &str, name: &str, signed: bool) -> Result<String> {
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    let mut server = PgConnection::establish(admin)?;
    server.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    server.batch_execute(&format!("CREATE DATABASE {name}"))?;
    seed(&format!("{base}/{name}"), signed)
}

/// Migrates the (empty) database at `url` and seeds it; returns the app role's URL.
pub(super) fn seed(url: &str, signed: bool) -> Result<String> {
    let url = url.to_owned();
    let mut conn = PgConnection::establish(&url)?;
    migrate::apply(&mut conn, Wait::Wait, false, &mut |_| {})?;
    if signed {
        tenancy_migrate::claim_key::install(&mut conn, &ClaimKey::parse(KEY)?)?;
    } else {
        // Back to the first migration: the unsigned claim.
        while migrate::status(&mut conn)?.iter().filter(|m| m.applied).count() > 1 {
            migrate::revert(&mut conn, false, Wait::Wait, false, &mut |_| {})?;
        }
    }
    let mut seed = String::from(
        "INSERT INTO users (id, email) VALUES ('00000000-0000-4000-8000-0000000000f1', 'bench@example.com');
         DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_login') THEN
           CREATE ROLE app_login LOGIN NOINHERIT; END IF; END $$;
         ALTER ROLE app_login PASSWORD 'bench'; GRANT app_user TO app_login; ALTER ROLE app_login SET role = 'app_user';",
    );
    for t in 0..TENANTS {
        let org = org_id(t);
        seed.push_str(&format!(
            "INSERT INTO organizations (id, name, slug) VALUES ('{org}', 'bench {t}', 'bench-{t}');
             INSERT INTO contacts (org_id, user_id, full_name) SELECT '{org}', '00000000-0000-4000-8000-0000000000f1', 'c' || g FROM generate_series(1, 200) g;"
        ));
    }
    conn.batch_execute(&seed)?;
    conn.batch_execute("ANALYZE")?;
    // As deployed: the application's login role, which becomes the app role at login.
    let app = url.replacen("://", "://app_login:bench@", 1);
    let app = match app.split_once('@') {
        // Drop the admin credentials that followed the scheme.
        Some((head, rest)) => format!("{head}@{}", rest.split_once('@').map_or(rest, |(_, host)| host)),
        None => app,
    };
    Ok(app)
}

fn org_id(tenant: u128) -> String {
    format!("00000000-0000-4000-8000-{:012x}", 0xbe00 + tenant)
}

fn claim(signed: bool, key: &ClaimKey, org: &str) -> (String, String) {
    if signed {
        let expires =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) + 60;
        ("app.org_token".to_owned(), key.token(org, expires))
    } else {
        ("app.org_id".to_owned(), org.to_owned())
    }
}

/// The pool workload on `pool`: 8 tenants × `ops` transactions, each setting the claim.
pub(super) fn workload<M: diesel::r2d2::ManageConnection<Connection = PgConnection>>(
    pool: &Pool<M>,
    signed: bool,
    ops: u64,
) -> Result<Figures> {
    workload_with(pool, signed, ops, false)
}

/// The workload; `routed`: every statement also names the organization (`org_id = ...`), as
/// the models' `*_of_org()` accessors write it, so Citus sends it to one shard.
pub(super) fn workload_with<M: diesel::r2d2::ManageConnection<Connection = PgConnection>>(
    pool: &Pool<M>,
    signed: bool,
    ops: u64,
    routed: bool,
) -> Result<Figures> {
    let key = ClaimKey::parse(KEY)?;
    let latencies = std::sync::Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..TENANTS {
            let (pool, key, latencies) = (&pool, &key, &latencies);
            scope.spawn(move || {
                let org = org_id(t);
                let mut mine = Vec::new();
                for i in 0..ops {
                    let begun = Instant::now();
                    let mut conn = pool.get().expect("a pooled connection");
                    let (setting, value) = claim(signed, key, &org);
                    conn.transaction::<_, diesel::result::Error, _>(|conn| {
                        // As the generated models set it (SET LOCAL reaches Citus workers; set_config does not).
                        diesel::sql_query(format!("SET LOCAL {setting} = {}", tenancy_codegen::sql::literal(&value)))
                            .execute(conn)?;
                        let of_org = if routed { format!(" AND org_id = '{org}'") } else { String::new() };
                        let sql = match i % 4 {
                            0 => format!("SELECT count(*) FROM contacts WHERE true{of_org}"),
                            1 if routed => format!("INSERT INTO contacts (org_id, user_id, full_name) VALUES ('{org}', '00000000-0000-4000-8000-0000000000f1', 'n')"),
                            1 => "INSERT INTO contacts (user_id, full_name) VALUES ('00000000-0000-4000-8000-0000000000f1', 'n')".to_owned(),
                            2 => format!("UPDATE contacts SET full_name = 'u' WHERE id = (SELECT max(id) FROM contacts WHERE true{of_org}){of_org}"),
                            _ => format!("DELETE FROM contacts WHERE id = (SELECT max(id) FROM contacts WHERE true{of_org}){of_org}"),
                        };
                        diesel::sql_query(sql).execute(conn)?;
                        Ok(())
                    })
                    .expect("a tenant operation");
                    mine.push(begun.elapsed());
                }
                latencies.lock().unwrap().extend(mine);
            });
        }
    });
    let elapsed = started.elapsed();
    let mut latencies = latencies.into_inner().unwrap();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    // Per statement: one transaction, one claim, 1,000 statements that each evaluate it.
    let mut conn = pool.get().context("a pooled connection")?;
    let org = org_id(0);
    let (setting, value) = claim(signed, &key, &org);
    let per_statement = conn.transaction::<_, anyhow::Error, _>(|conn| {
        diesel::sql_query(format!("SET LOCAL {setting} = {}", tenancy_codegen::sql::literal(&value))).execute(conn)?;
        let begun = Instant::now();
        for _ in 0..1000 {
            diesel::sql_query("SELECT count(*) FROM contacts WHERE id < 0").execute(conn)?;
        }
        Ok(begun.elapsed() / 1000)
    })?;
    Ok(Figures {
        ops_per_s: (TENANTS as f64 * ops as f64) / elapsed.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
        per_statement,
    })
}
