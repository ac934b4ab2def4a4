//! Citus against one node, same run: the pool workload of the claim benchmark (8 tenants ×
//! `ops` mixed operations, each a transaction setting the signed claim, over 2 app-role
//! connections) on a single-node database and through the coordinator of the local 3-node
//! cluster (all on this one machine: overhead, not speed-up, is what it can show); and the time
//! to distribute a populated 1M-row tenant table, against copying the same rows into a local
//! table (`CREATE TABLE AS`).

use super::claim;
use anyhow::{Context, Result};
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::{Connection, PgConnection};
use std::time::Instant;
use tenancy_migrate::citus::Citus;

const DATABASE: &str = "bench_citus";

pub fn run(admin: &str, ops: u64) -> Result<()> {
    let single = claim::prepare(admin, "bench_citus_single", true)?;
    let citus = Citus::ensure_running(&tenancy_migrate::citus::dev_dir(&crate::project_root()))?;
    citus.drop_database(DATABASE)?;
    citus.ensure_database(DATABASE)?;
    let coordinator = claim::seed(&citus.url(DATABASE), true)?;
    let pool = |url: &str| Pool::builder().max_size(2).build(ConnectionManager::<PgConnection>::new(url));
    let (single_pool, citus_pool) = (pool(&single)?, pool(&coordinator)?);
    // (pool, routed): row-level security alone, then with the organization written out.
    let runs = [(&single_pool, false), (&citus_pool, false), (&single_pool, true), (&citus_pool, true)];
    let mut best = [0.0_f64; 4];
    let mut p99 = [0.0_f64; 4];
    for _ in 0..2 {
        for (i, (pool, routed)) in runs.iter().enumerate() {
            let figures = claim::workload_with(*pool, true, ops, *routed)?;
            if figures.ops_per_s > best[i] {
                best[i] = figures.ops_per_s;
                p99[i] = figures.p99.as_secs_f64() * 1e3;
            }
        }
    }
    println!("  org-scoped operations, 8 tenants x {ops}, signed claim, pool of 2:");
    for (label, at) in [("row-level security alone (every shard)", 0), ("org_id written out (one shard)", 2)] {
        println!("   {label}:");
        println!("    single node: {:.0} ops/s, p99 {:.1} ms", best[at], p99[at]);
        println!(
            "    Citus coordinator + 2 workers (same machine): {:.0} ops/s, p99 {:.1} ms",
            best[at + 1],
            p99[at + 1]
        );
        println!("    Citus / single node: {:.3}x throughput", best[at + 1] / best[at]);
    }

    let mut conn = PgConnection::establish(&citus.url(DATABASE)).context("the coordinator")?;
    conn.batch_execute(
        "DROP TABLE IF EXISTS bench_big, bench_big_copy;
         CREATE TABLE bench_big (org_id uuid NOT NULL, id bigint NOT NULL, payload text NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (org_id, id));
         INSERT INTO bench_big (org_id, id, payload)
           SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g % 100), 12, '0'))::uuid, g, md5(g::text) FROM generate_series(1, 1000000) g;
         ANALYZE bench_big;",
    )?;
    let started = Instant::now();
    conn.batch_execute("CREATE TABLE bench_big_copy AS SELECT * FROM bench_big")?;
    let copy = started.elapsed();
    let started = Instant::now();
    conn.batch_execute("SELECT create_distributed_table('bench_big', 'org_id')")?;
    let distribute = started.elapsed();
    conn.batch_execute("DROP TABLE bench_big, bench_big_copy")?;
    println!("  distributing a 1M-row tenant table (100 organizations, 32 shards over 2 workers):");
    println!(
        "    create_distributed_table {:.2} s; a local CREATE TABLE AS copy of it {:.2} s; ratio {:.2}x",
        distribute.as_secs_f64(),
        copy.as_secs_f64(),
        distribute.as_secs_f64() / copy.as_secs_f64()
    );
    println!("    (it holds a SHARE lock on the table while the rows are copied: reads continue, writes wait)");
    Ok(())
}
