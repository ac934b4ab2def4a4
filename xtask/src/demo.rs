//! `cargo xtask demo`: the whole story on a throwaway PostgreSQL. A legacy database like the
//! seeds' (tenancy-migrate/fixtures/legacy_app.sql) → scan (before) → plan + apply the
//! conversion → verify → scan (after, with the verify matrix) → the report site with both
//! reports and their diff, served on 127.0.0.1.

use anyhow::{Context, Result, bail};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use tenancy_migrate::convert::{self, run};
use tenancy_migrate::migrate;
use tenancy_migrate::{scan, verify};

const DATABASE: &str = "tenancy_demo";

pub fn run(args: &[&str]) -> Result<()> {
    let serve = match args {
        [] => true,
        ["--no-serve"] => false,
        _ => bail!("usage: cargo xtask demo [--no-serve]"),
    };
    let root = crate::project_root();
    let cluster = crate::devdb::start()?;
    let mut server = PgConnection::establish(&cluster.url("postgres"))?;
    server.batch_execute(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))?;
    server.batch_execute(&format!("CREATE DATABASE {DATABASE}"))?;
    server.batch_execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_user') THEN
           CREATE ROLE app_user NOLOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$",
    )?;
    let url = cluster.url(DATABASE);
    let mut conn = PgConnection::establish(&url)?;
    let legacy = std::fs::read_to_string(root.join("tenancy-migrate/fixtures/legacy_app.sql"))?;
    conn.batch_execute(&legacy).context("loading the legacy database")?;
    println!("1. a legacy database like the seeds': {url}");

    let declaration = tenancy_migrate::declaration::load(None)?;
    let before = scan::scan(&mut conn, &declaration, &scan::Options::default())?;
    let s = &before.summary;
    println!(
        "2. scan (before): {} errors, {} warnings, RLS coverage {}/{}, compliance {}%",
        s.errors, s.warnings, s.rls_coverage.enabled, s.rls_coverage.total, s.compliance_percent
    );

    // The seeds' open policy, blanket grants and definer function go: the demo has reviewed them.
    let options =
        convert::Options { baseline: migrate::versions()?, replace_access: true, ..convert::Options::default() };
    let plan = convert::plan_database(&mut conn, &declaration, "public", &options)?;
    let plan_dir = root.join("target/tenancy/demo-plan");
    let _ = std::fs::remove_dir_all(&plan_dir);
    convert::write(&plan, &options, &plan_dir)?;
    println!("3. plan: {} steps written to {}", plan.steps.len(), plan_dir.display());
    let run_options = run::RunOptions::default();
    run::apply_dir(&mut conn, &plan_dir, run_options, &mut |line| println!("   {line}"))?;
    println!("4. applied");

    let verification = verify::verify(&mut conn, &declaration)?;
    let c = verification.counts;
    println!("5. verify: {} blocked, {} allowed, {} leaked, {} errors", c.blocked, c.allowed, c.leaked, c.error);
    // The signed claim (this workspace's preset): SQL rewriting the claim gets nothing.
    let forgery: Vec<String> = verification
        .objects
        .iter()
        .filter(|o| o.cell.attack.starts_with("claim_"))
        .map(|o| format!("{} {:?}", o.cell.attack.trim_start_matches("claim_"), o.cell.outcome).to_lowercase())
        .collect();
    if !forgery.is_empty() {
        println!("   claim forgery as the app role: {}", forgery.join(", "));
        println!("   (the app needs a key now: tenancy-migrate claim-key install --from-env TENANCY_CLAIM_KEY)");
    }
    let mut after = scan::scan(&mut conn, &declaration, &scan::Options::default())?;
    after.verify = Some(verification);
    let s = &after.summary;
    println!(
        "6. scan (after): {} errors, {} warnings, RLS coverage {}/{}, compliance {}%",
        s.errors, s.warnings, s.rls_coverage.enabled, s.rls_coverage.total, s.compliance_percent
    );

    let reports = crate::report::reports_dir();
    std::fs::create_dir_all(&reports)?;
    let files = [reports.join("before.json"), reports.join("after.json")];
    std::fs::write(&files[0], serde_json::to_string_pretty(&before)? + "\n")?;
    std::fs::write(&files[1], serde_json::to_string_pretty(&after)? + "\n")?;
    let site = crate::report::build_site(&files)?;
    println!("7. report site: {}", site.display());
    if serve {
        let (address, _server) = crate::report::serve_dir(&site, 0)?;
        println!("\nopen http://{address}/{}  (Ctrl-C to stop)", crate::report::start_page(&files));
        loop {
            std::thread::park();
        }
    }
    Ok(())
}
