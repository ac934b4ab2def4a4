//! The cost of resetting connections on checkout (`models::pool`): the pool workload of
//! `claim.rs` over a plain r2d2 pool and over the generated one, on the same signed database,
//! alternated twice each in one run.

use super::claim::{Figures, prepare, workload};
use anyhow::Result;
use diesel::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool};
use tenancy_migrate::models::pool as reset;

pub fn run(admin: &str, ops: u64) -> Result<()> {
    let url = prepare(admin, "bench_pool", true)?;
    let plain = Pool::builder().max_size(2).build(ConnectionManager::<PgConnection>::new(&url))?;
    let reset = reset::pool(&url, 2)?;
    let mut plain_runs = Vec::new();
    let mut reset_runs = Vec::new();
    for _ in 0..2 {
        plain_runs.push(workload(&plain, true, ops)?);
        reset_runs.push(workload(&reset, true, ops)?);
    }
    let best = |runs: &[Figures]| -> f64 { runs.iter().map(|f| f.ops_per_s).fold(0.0, f64::max) };
    let p50 = |runs: &[Figures]| runs.iter().map(|f| f.p50).min().unwrap_or_default().as_secs_f64() * 1e3;
    println!(
        "  plain pool: {:.0} ops/s, p50 {:.2} ms; reset on checkout: {:.0} ops/s, p50 {:.2} ms",
        best(&plain_runs),
        p50(&plain_runs),
        best(&reset_runs),
        p50(&reset_runs)
    );
    println!("  reset / plain throughput: {:.3}x", best(&reset_runs) / best(&plain_runs));
    Ok(())
}
