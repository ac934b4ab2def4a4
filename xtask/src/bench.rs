//! `cargo xtask bench`: benchmarks whose figures go to BENCHMARKS.md.

use anyhow::{Result, bail};
use std::time::{Duration, Instant};

pub fn run(args: &[&str]) -> Result<()> {
    match args {
        [] | ["codegen"] => codegen(),
        _ => bail!("usage: cargo xtask bench [codegen]"),
    }
}

/// parse + validate + generate (models and the initial migration) for a synthesized
/// 1,000-table declaration, against the baseline of the workspace's own 28-table declaration.
fn codegen() -> Result<()> {
    let big = synthesize(1_000);
    let own = std::fs::read_to_string(crate::project_root().join("tenancy-schema/schema/tenancy.rs"))?;
    let runs = 5;
    let own_time = median(runs, || pipeline(&own));
    let big_time = median(runs, || pipeline(&big));
    println!(
        "codegen benchmark (release build recommended: cargo xtask bench is built in dev profile unless --release)"
    );
    println!("  workspace declaration (28 tables): {:>8.1} ms", own_time.as_secs_f64() * 1e3);
    println!("  synthesized 1,000 tables:          {:>8.1} ms  (goal <= 1000 ms)", big_time.as_secs_f64() * 1e3);
    println!("  ratio 1,000 tables / 28 tables:    {:>8.1}x", big_time.as_secs_f64() / own_time.as_secs_f64());
    let schema = tenancy_schema::parse_str("bench.rs", &big).expect("valid");
    let parse = median(runs, || tenancy_schema::parse_str("bench.rs", &big).map(|s| s.tables.len()).unwrap_or(0));
    let models = median(runs, || tenancy_codegen::rust::models(&schema).len());
    let sql = median(runs, || tenancy_codegen::plan(None, &schema, 1).map(|m| m[0].up.len()).unwrap_or(0));
    println!(
        "  1,000 tables by phase: parse+validate {:.1} ms, Rust models {:.1} ms, SQL plan {:.1} ms",
        parse.as_secs_f64() * 1e3,
        models.as_secs_f64() * 1e3,
        sql.as_secs_f64() * 1e3
    );
    Ok(())
}

fn pipeline(source: &str) -> usize {
    let schema = tenancy_schema::parse_str("bench.rs", source).expect("synthesized declarations are valid");
    let models = tenancy_codegen::rust::models(&schema);
    let migrations = tenancy_codegen::plan(None, &schema, 1).expect("initial plan");
    models.len() + migrations.iter().map(|m| m.up.len() + m.down.len()).sum::<usize>()
}

fn median(runs: usize, mut f: impl FnMut() -> usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// A declaration with one root, one global and `tables - 2` tenant tables, each referencing
/// the previous tenant table and the global one, with a unique key.
pub fn synthesize(tables: usize) -> String {
    let mut out = String::from(
        "#[tenancy(root)]\nstruct Organization { #[key] id: Uuid, name: String }\n\n\
         #[tenancy(global)]\nstruct Account { #[key] id: Uuid, #[unique] email: String }\n\n",
    );
    for i in 0..tables.saturating_sub(2) {
        let parent =
            if i == 0 { String::new() } else { format!("#[references(t{:04}s)] parent_id: Option<i64>,", i - 1) };
        out.push_str(&format!(
            "#[tenancy(tenant, unique(code, kind))]\nstruct T{i:04} {{ #[key] id: i64, #[references(accounts)] account_id: Uuid, {parent} code: String, kind: String, amount: Option<i64>, payload: Json, created_at: Timestamp }}\n\n"
        ));
    }
    out
}
