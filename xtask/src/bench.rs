//! `cargo xtask bench`: benchmarks whose figures go to BENCHMARKS.md.

use anyhow::{Context, Result, bail};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use std::time::{Duration, Instant};
use tenancy_migrate::scan;

mod citus;
mod claim;
mod convert;
mod data;
mod pool;
mod viewer;

pub fn run(args: &[&str]) -> Result<()> {
    match args {
        [] => {
            codegen()?;
            scan_bench(&[200, 2_000])?;
            convert::run(&admin_url()?, tenancy_codegen::convert::Options::default().batch_size)
        }
        ["codegen"] => codegen(),
        ["scan"] => scan_bench(&[200, 2_000]),
        // A fleet-size run: `cargo xtask bench scan 20000` (its database takes a while to create).
        ["scan", tables] => scan_bench(&[tables.parse().context("tables: a positive integer")?]),
        ["convert"] => convert::run(&admin_url()?, tenancy_codegen::convert::Options::default().batch_size),
        ["claim"] => claim::run(&admin_url()?, 1000),
        ["citus"] => citus::run(&admin_url()?, 1000),
        ["pool"] => pool::run(&admin_url()?, 1000),
        ["viewer"] => viewer::run(),
        ["data"] => data::run(&admin_url()?),
        ["convert", size] => convert::run(&admin_url()?, size.parse().context("batch size: a positive integer")?),
        _ => {
            bail!("usage: cargo xtask bench [codegen|scan [TABLES]|data|claim|pool|citus|viewer|convert [BATCH_SIZE]]")
        }
    }
}

/// DATABASE_URL, or the throwaway cluster's.
fn admin_url() -> Result<String> {
    Ok(match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => crate::devdb::start()?.url("postgres"),
    })
}

/// Rows in the one large table of the scan benchmark.
const BIG_TABLE_ROWS: i64 = 1_000_000;

/// scan on synthesized databases of 200 and 2,000 tenant tables (policies, composite FKs,
/// indexes, triggers), against `pg_dump --schema-only` of the same database; the data checks on
/// the 200-table database (1M rows in one table) against a bare `SELECT count(*)` of each table.
fn scan_bench(sizes: &[usize]) -> Result<()> {
    let admin = admin_url()?;
    let runs = if sizes.iter().any(|&n| n > 2_000) { 3 } else { 5 };
    let mut catalog_times = Vec::new();
    for &tables in sizes {
        let (url, schema) = synthesized_database(&admin, tables)?;
        let mut conn = PgConnection::establish(&url)?;
        let no_data = scan::Options { data: false, ..scan::Options::default() };
        let scan_time =
            median(runs, || scan::scan(&mut conn, &schema, &no_data).map(|r| r.findings.len()).unwrap_or(0));
        let dump_time = median(runs, || pg_dump(&url));
        println!(
            "  {tables} tenant tables: scan --no-data {:.1} ms, pg_dump --schema-only {:.1} ms, ratio {:.3}x (goal <= 0.25x)",
            ms(scan_time),
            ms(dump_time),
            scan_time.as_secs_f64() / dump_time.as_secs_f64()
        );
        let report = scan::scan(&mut conn, &schema, &no_data).map_err(anyhow::Error::msg)?;
        println!(
            "    catalog findings: {} (the big table's two dropped foreign keys among them)",
            report.findings.len()
        );
        catalog_times.push(scan_time);
        if tables == 200 {
            data_bench(&mut conn, &schema, runs)?;
        }
    }
    if let [small, large] = catalog_times.as_slice() {
        println!("  growth 200 -> 2,000 tables: {:.2}x (goal <= 11x)", large.as_secs_f64() / small.as_secs_f64());
    }
    Ok(())
}

fn data_bench(conn: &mut PgConnection, schema: &tenancy_schema::Schema, runs: usize) -> Result<()> {
    let catalog = conn
        .build_transaction()
        .read_only()
        .run(|conn| tenancy_migrate::catalog::load(conn, "public", &schema.settings.app_role))
        .map_err(anyhow::Error::msg)?;
    let data_time = median(runs, || scan::data::run(conn, schema, &catalog).map(|pass| pass.tables.len()).unwrap_or(0));
    let tenants: Vec<String> =
        schema.tables.iter().filter(|t| t.is_tenant()).map(|t| tenancy_codegen::sql::ident(&t.name)).collect();
    let count_time = median(runs, || {
        tenants.iter().map(|t| diesel::sql_query(format!("SELECT count(*) FROM {t}")).execute(conn).unwrap_or(0)).sum()
    });
    println!(
        "  data checks on {} tables ({} rows in one): {:.1} ms vs SELECT count(*) of each {:.1} ms, ratio {:.2}x (goal <= 1.3x)",
        tenants.len(),
        BIG_TABLE_ROWS,
        ms(data_time),
        ms(count_time),
        data_time.as_secs_f64() / count_time.as_secs_f64()
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn pg_dump(url: &str) -> usize {
    let bin =
        tenancy_migrate::cluster::server_binaries().map(|d| d.join("pg_dump")).unwrap_or_else(|_| "pg_dump".into());
    let output =
        std::process::Command::new(bin).args(["--schema-only", "--dbname", url]).output().expect("pg_dump runs");
    assert!(output.status.success(), "pg_dump: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout.len()
}

/// The URL of database `name` on the benchmark server.
fn database_url(admin: &str, name: &str) -> String {
    let (user, password) = tenancy_migrate::db::credentials(admin);
    tenancy_migrate::db::with_login(admin, &user, password.as_deref(), name)
}

/// None when database `name` is already made (its comment is `marker`); otherwise makes it anew
/// with `schema`'s initial migration applied, and returns its URL and a connection for the
/// caller's rows (who comments it with `marker` when done). The migration runs in transactions
/// of 100 statements: thousands of tables created in one transaction take more locks than a
/// default server's lock table holds ("out of shared memory").
fn fresh_database(
    admin: &str,
    name: &str,
    marker: &str,
    schema: &tenancy_schema::Schema,
) -> Result<Option<(String, PgConnection)>> {
    let url = database_url(admin, name);
    let mut server = PgConnection::establish(admin).context("connecting to the benchmark server")?;
    #[derive(diesel::QueryableByName)]
    struct Ready {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        ready: bool,
    }
    let ready = diesel::sql_query(format!(
        "SELECT EXISTS (SELECT FROM pg_database WHERE datname = '{name}' AND datallowconn
                        AND pg_catalog.shobj_description(oid, 'pg_database') = '{marker}') AS ready"
    ))
    .get_result::<Ready>(&mut server)?
    .ready;
    if ready {
        eprintln!("reusing database {name}");
        return Ok(None);
    }
    eprintln!("creating database {name}...");
    server.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    server.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let migration = tenancy_codegen::plan(None, schema, 1).map_err(anyhow::Error::msg)?.remove(0);
    let mut conn = PgConnection::establish(&url)?;
    let statements = tenancy_migrate::convert::split::statements(&migration.up);
    for chunk in statements.chunks(100) {
        conn.transaction(|conn| chunk.iter().try_for_each(|s| conn.batch_execute(s)))?;
    }
    Ok(Some((url, conn)))
}

/// Creates (or reuses) `bench_scan_<n>`: the synthesized declaration applied, some rows in every
/// tenant table and `BIG_TABLE_ROWS` in the second one (which references the first).
fn synthesized_database(admin: &str, tenant_tables: usize) -> Result<(String, tenancy_schema::Schema)> {
    let schema = tenancy_schema::parse_str("bench.rs", &synthesize(tenant_tables + 2)).map_err(anyhow::Error::msg)?;
    let name = format!("bench_scan_{tenant_tables}");
    let Some((url, mut conn)) = fresh_database(admin, &name, "tenancy bench ready 2", &schema)? else {
        return Ok((database_url(admin, &name), schema));
    };
    conn.batch_execute(&format!(
        "INSERT INTO organizations (id, name) SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'org ' || i
           FROM generate_series(1, 10) i;
         INSERT INTO accounts (id, email) VALUES ('00000000-0000-4000-8000-00000000aaaa', 'a@example.com');
         INSERT INTO t0000s (org_id, id, account_id, code, kind, payload, created_at)
           SELECT ('00000000-0000-4000-8000-' || lpad((1 + i % 10)::text, 12, '0'))::uuid, i,
                  '00000000-0000-4000-8000-00000000aaaa', 'c' || i, 'k', '{{}}', now() FROM generate_series(1, 1000) i;
         INSERT INTO t0001s (org_id, id, account_id, parent_id, code, kind, payload, created_at)
           SELECT ('00000000-0000-4000-8000-' || lpad((1 + (1 + i % 1000) % 10)::text, 12, '0'))::uuid, i,
                  '00000000-0000-4000-8000-00000000aaaa', 1 + i % 1000, 'c' || i, 'k', '{{}}', now()
             FROM generate_series(1, {BIG_TABLE_ROWS}) i"
    ))?;
    // The big table as a half-converted legacy table: without its foreign keys, PostgreSQL no
    // longer guarantees its organization references, so the data checks must count them.
    conn.batch_execute("ALTER TABLE t0001s DROP CONSTRAINT t0001s_org_id_fkey, DROP CONSTRAINT t0001s_parent_id_fkey")?;
    // Each on its own: VACUUM cannot run inside the implicit transaction of a multi-statement batch.
    conn.batch_execute("VACUUM ANALYZE")?;
    conn.batch_execute(&format!("COMMENT ON DATABASE {name} IS 'tenancy bench ready 2'"))?;
    Ok((url, schema))
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
            "#[tenancy(tenant, unique(code, kind))]\nstruct T{i:04} {{ #[key] id: i64, #[references(accounts)] account_id: Uuid, {parent} code: String, kind: String, amount: Option<i64>, payload: Jsonb, created_at: Timestamptz }}\n\n"
        ));
    }
    out
}
