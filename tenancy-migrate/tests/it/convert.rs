//! plan + apply --dir on a seed-like legacy database (fixtures/legacy_app.sql): the result scans
//! clean, no row is lost or changed, a kill at any point resumes, two runs never interleave, rows
//! the backfill cannot place stop the run, and revert brings the legacy shape back.

use crate::support::{TestDb, count, exec, plan_dir, texts};
use diesel::PgConnection;
use diesel::connection::SimpleConnection;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use tenancy_migrate::convert::{self, run};
use tenancy_migrate::migrate::{self, LOCK_KEY, Wait};
use tenancy_migrate::{Error, scan};

pub const LEGACY_APP: &str = include_str!("../../fixtures/legacy_app.sql");

/// Tables of the fixture with rows, and their key.
const TABLES: &[&str] = &[
    "plans",
    "organizations",
    "users",
    "user_organizations",
    "agents",
    "contacts",
    "calls",
    "call_logs",
    "products",
    "social_platform_connections",
    "sessions",
];

pub fn legacy(test: &str) -> TestDb {
    let db = TestDb::new(test);
    db.admin().batch_execute(LEGACY_APP).expect("load fixtures/legacy_app.sql");
    db
}

/// Plans the conversion of `db` into a fresh directory, as `plan --out` does.
pub fn write_plan(db: &TestDb, test: &str, batch_size: u32) -> PathBuf {
    let dir = plan_dir(test);
    let declaration = tenancy_migrate::declaration::load(None).unwrap();
    let options = convert::Options {
        batch_size,
        baseline: migrate::versions().unwrap(),
        replace_access: true,
        ..convert::Options::default()
    };
    let plan = convert::plan_database(&mut db.admin(), &declaration, "public", &options).expect("plan");
    convert::write(&plan, &options, &dir).expect("write the plan");
    dir
}

fn options() -> run::RunOptions {
    run::RunOptions::default()
}

fn apply_dir(conn: &mut PgConnection, dir: &Path) -> Result<Vec<String>, Error> {
    run::apply_dir(conn, dir, options(), &mut |_| {}).map(|o| o.migrations)
}

/// Per table: the row count and a checksum over the columns it had before the conversion
/// (without the org column, which the conversion fills), independent of row order.
fn checksums(conn: &mut PgConnection, columns: &BTreeMap<String, Vec<String>>) -> BTreeMap<String, String> {
    columns
        .iter()
        .map(|(table, columns)| {
            let row = columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT count(*)::text || ' ' || coalesce(md5(string_agg(h, ',' ORDER BY h)), '') AS t \
                 FROM (SELECT md5(ROW({row})::text) AS h FROM \"{table}\") r"
            );
            (table.clone(), texts(conn, &sql).remove(0))
        })
        .collect()
}

/// The legacy columns of every fixture table, minus org_id.
fn legacy_columns(conn: &mut PgConnection) -> BTreeMap<String, Vec<String>> {
    TABLES
        .iter()
        .map(|table| {
            let columns = texts(
                conn,
                &format!(
                    "SELECT attname::text AS t FROM pg_attribute WHERE attrelid = '{table}'::regclass \
                     AND attnum > 0 AND NOT attisdropped AND attname <> 'org_id' ORDER BY attnum"
                ),
            );
            ((*table).to_owned(), columns)
        })
        .collect()
}

/// `table key org` for every row whose org_id named an existing organization.
fn placed_rows(conn: &mut PgConnection) -> BTreeSet<String> {
    let mut rows = BTreeSet::new();
    for table in ["user_organizations", "calls", "call_logs", "products"] {
        rows.extend(texts(
            conn,
            &format!(
                "SELECT '{table} ' || id || ' ' || org_id AS t FROM {table} \
                 WHERE org_id IN (SELECT id FROM organizations)"
            ),
        ));
    }
    rows
}

fn errors_and_warnings(conn: &mut PgConnection) -> Vec<String> {
    let declaration = tenancy_migrate::declaration::load(None).unwrap();
    let report = scan::scan(conn, &declaration, &scan::Options::default()).expect("scan");
    report
        .findings
        .iter()
        .filter(|f| f.code != "table-not-declared" && f.severity >= tenancy_schema::report::Severity::Warn)
        .map(|f| format!("{:?} {}: {}", f.severity, f.code, f.message))
        .collect()
}

#[test]
fn a_legacy_database_converts_to_a_clean_scan_without_losing_a_row() {
    let db = legacy("convert_legacy");
    let mut conn = db.admin();
    let columns = legacy_columns(&mut conn);
    let before = checksums(&mut conn, &columns);
    let placed = placed_rows(&mut conn);
    assert!(count(&mut conn, "SELECT count(*) AS n FROM calls WHERE org_id IS NULL") > 3000);

    let dir = write_plan(&db, "convert_legacy", 500);
    let applied = apply_dir(&mut conn, &dir).expect("apply the conversion");
    assert!(applied.len() >= 10, "{applied:?}");

    // Only the two tables nobody declared remain as findings (warnings).
    assert_eq!(errors_and_warnings(&mut conn), Vec::<String>::new());
    assert_eq!(checksums(&mut conn, &columns), before, "rows and their values are unchanged");
    let after = placed_rows(&mut conn);
    assert!(placed.is_subset(&after), "rows that had an organization keep it");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM calls WHERE org_id IS NULL"), 0);
    // Legacy rows went where the declaration says: agents through their user, calls through their agent.
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM agents a JOIN users u ON u.id = a.user_id WHERE a.org_id <> u.default_org_id"
        ),
        0
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM calls c JOIN agents a ON a.id = c.agent_id WHERE c.org_id <> a.org_id"
        ),
        0
    );

    // A second run does nothing, and the workspace migrations are recorded as applied.
    assert_eq!(apply_dir(&mut conn, &dir).unwrap(), Vec::<String>::new());
    let status = migrate::status(&mut conn).unwrap();
    assert!(status.iter().all(|m| m.applied), "{status:?}");
    assert!(migrate::apply(&mut conn, Wait::NoWait, false, &mut |_| {}).unwrap().migrations.is_empty());

    // Revert: the legacy shape comes back (every column as it was), and every row stays.
    let shape = |conn: &mut PgConnection| {
        texts(
            conn,
            "SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || \
             ' rls=' || c.relrowsecurity AS t FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped \
             AND c.relname <> '__diesel_schema_migrations' ORDER BY 1",
        )
    };
    let fresh = legacy("convert_legacy_shape");
    let legacy_shape = shape(&mut fresh.admin());
    run::revert_dir(&mut conn, &dir, options(), &mut |_| {}).expect("revert");
    assert_eq!(shape(&mut conn), legacy_shape);
    assert_eq!(checksums(&mut conn, &columns), before);
    assert!(migrate::status(&mut conn).unwrap().iter().all(|m| !m.applied), "the baseline is reverted too");
    // And it converts again.
    apply_dir(&mut conn, &dir).expect("apply after revert");
    assert_eq!(errors_and_warnings(&mut conn), Vec::<String>::new());
}

#[test]
fn rows_the_backfill_cannot_place_stop_the_run_before_not_null() {
    let db = legacy("convert_unplaced");
    let mut conn = db.admin();
    // Two users without a default organization: their agents have nowhere to go.
    exec(&mut conn, "UPDATE users SET default_org_id = NULL WHERE email IN ('user2@example.com', 'user3@example.com')")
        .unwrap();
    let stranded = texts(
        &mut conn,
        "SELECT id::text AS t FROM social_platform_connections WHERE user_id IN \
         (SELECT id FROM users WHERE default_org_id IS NULL) ORDER BY id LIMIT 5",
    );
    let dir = write_plan(&db, "convert_unplaced", 1000);
    let err = apply_dir(&mut conn, &dir).unwrap_err();
    let message = err.to_string();
    // Every table backfilled through users has stranded rows, and one run names each: the
    // connections (3 per user), the agents, the contacts, and the calls of those agents.
    let Error::Unplaced(rows) = &err else { panic!("{message}") };
    let tables: Vec<(&str, i64)> = rows.iter().map(|r| (r.what.split('.').next().unwrap(), r.count)).collect();
    assert_eq!(tables.len(), 4, "{message}");
    assert_eq!(tables[0], ("social_platform_connections", 6), "{message}");
    assert!(message.contains("social_platform_connections.org_id via user_id -> users.default_org_id"), "{message}");
    assert!(message.contains(&format!("(id {}, ...)", stranded.join(", "))), "{message}");
    // Nothing after the backfill ran: the column is still nullable, with the rows still NULL.
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM social_platform_connections WHERE org_id IS NULL"), 6);
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_attribute WHERE attrelid = 'social_platform_connections'::regclass \
             AND attname = 'org_id' AND attnotnull"
        ),
        0
    );
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM tenancy.conversion_log WHERE step LIKE '%org_not_null'"), 0);
    // Fixed by hand, the rerun finishes the job.
    exec(
        &mut conn,
        "UPDATE users SET default_org_id = CASE email WHEN 'user2@example.com' THEN '0000000b-0000-4000-8000-000000000000'::uuid \
         ELSE '00000000-0000-4000-8000-000000000001'::uuid END WHERE default_org_id IS NULL",
    )
    .unwrap();
    apply_dir(&mut conn, &dir).expect("the rerun completes");
    assert_eq!(errors_and_warnings(&mut conn), Vec::<String>::new());
}

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenancy-migrate"));
    command.env_remove("DATABASE_URL").env("NO_COLOR", "1");
    command
}

/// Kill -9 of `apply --dir` at random points, 20 times: every rerun completes, and every row is
/// there with its values.
#[test]
fn a_killed_apply_resumes_where_it_stopped() {
    const TRIALS: u64 = 20;
    let template = legacy("convert_kill_template");
    let dir = write_plan(&template, "convert_kill", 200);
    let mut conn = template.admin();
    let columns = legacy_columns(&mut conn);
    // How long an uninterrupted run takes, to spread the kills over it.
    let started = std::time::Instant::now();
    apply_dir(&mut conn, &dir).unwrap();
    let full = started.elapsed();
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut interrupted = 0;
    for trial in 0..TRIALS {
        let db = legacy(&format!("convert_kill_{trial}"));
        // Each load has its own timestamps and random ids.
        let before = checksums(&mut db.admin(), &columns);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = std::time::Duration::from_micros(rng % (full.as_micros() as u64 + 1));
        let mut child = binary()
            .args(["apply", "--dir"])
            .arg(&dir)
            .args(["--database-url", &db.admin_url()])
            .stderr(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        let mut conn = db.admin();
        apply_dir(&mut conn, &dir)
            .unwrap_or_else(|e| panic!("trial {trial} (killed after {delay:?}): rerun failed: {e}"));
        assert_eq!(checksums(&mut conn, &columns), before, "trial {trial}");
        assert_eq!(errors_and_warnings(&mut conn), Vec::<String>::new(), "trial {trial}");
    }
    assert!(interrupted >= TRIALS / 2, "only {interrupted} of {TRIALS} kills landed during the run");
}

#[test]
fn two_applies_never_interleave() {
    let db = legacy("convert_two");
    let dir = write_plan(&db, "convert_two", 100);
    // Someone holds the migration lock: --no-wait exits 2 naming the holder's pid.
    let mut holder = db.admin();
    exec(&mut holder, &format!("SELECT pg_advisory_lock({LOCK_KEY})")).unwrap();
    let pid = texts(&mut holder, "SELECT pg_backend_pid()::text AS t").remove(0);
    let output = binary()
        .args(["apply", "--no-wait", "--dir"])
        .arg(&dir)
        .args(["--database-url", &db.admin_url()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("backend pid {pid}")) && stderr.contains("holds the migration lock"), "{stderr}");
    exec(&mut holder, &format!("SELECT pg_advisory_unlock({LOCK_KEY})")).unwrap();

    // Two at once: both succeed, one waits for the other, every step runs once.
    let spawn = || {
        binary()
            .args(["apply", "--dir"])
            .arg(&dir)
            .args(["--database-url", &db.admin_url()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let outputs = [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()];
    let logs: Vec<String> = outputs.iter().map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).collect();
    assert!(outputs.iter().all(|o| o.status.success()), "{logs:#?}");
    let applied: Vec<usize> = logs.iter().map(|l| l.lines().filter(|l| l.starts_with("applying ")).count()).collect();
    let steps = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(applied.iter().sum::<usize>(), steps, "every step applied exactly once: {logs:#?}");
    assert!(logs.iter().any(|l| l.contains("waiting for the migration lock")), "{logs:#?}");
    assert_eq!(errors_and_warnings(&mut db.admin()), Vec::<String>::new());
}

#[test]
fn plan_refuses_what_it_cannot_convert_safely_and_writes_nothing() {
    // fixtures/legacy.sql stores contacts.org_id as text.
    let db = TestDb::new("convert_refused");
    db.admin().batch_execute(include_str!("../../fixtures/legacy.sql")).unwrap();
    let dir = plan_dir("convert_refused");
    let output = binary().args(["plan", "--database-url", &db.admin_url(), "--out"]).arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot plan the conversion of table contacts: its org_id column is text, not uuid"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!dir.exists());

    // A table to backfill without a unique key to name its rows by.
    let keyless = legacy("convert_refused_keyless");
    keyless.admin().batch_execute("ALTER TABLE contacts DROP CONSTRAINT contacts_pkey").unwrap();
    let output = binary().args(["plan", "--dry-run", "--database-url", &keyless.admin_url()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "table contacts: its rows need an organization, but its key id has no unique index to name them by"
        ),
        "{stderr}"
    );

    // A plan directory that is missing, or one that already holds a plan.
    let output =
        binary().args(["apply", "--dir", "/nonexistent/plan", "--database-url", &db.admin_url()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("no such directory; write one with `tenancy-migrate plan --out DIR`"), "{stderr}");
    let ok = legacy("convert_refused_ok");
    let dir = write_plan(&ok, "convert_refused_ok", 1000);
    let output = binary()
        .args(["plan", "--replace-access", "--database-url", &ok.admin_url(), "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("the directory is not empty"), "{stderr}");
}

#[test]
fn dry_run_lists_every_statement_with_its_lock_and_rows() {
    let db = legacy("convert_dry_run");
    // The seeds' open policy, blanket grants and definer function grant access tenancy's model
    // does not: listed, and nothing planned until the user says they were reviewed.
    let output = binary().args(["plan", "--dry-run", "--database-url", &db.admin_url()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for taken in [
        "policy calls_service on calls (PERMISSIVE FOR ALL TO app_user USING (true) WITH CHECK (true)) (replaced by",
        "EXECUTE on SECURITY DEFINER function count_all_contacts()",
        "--replace-access",
    ] {
        assert!(stderr.contains(taken), "{taken}: {stderr}");
    }
    let output =
        binary().args(["plan", "--dry-run", "--replace-access", "--database-url", &db.admin_url()]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("== 0004_backfill_agents (batches of about 5000 rows by ctid, one transaction each)"),
        "{text}"
    );
    assert!(text.contains("[ROW EXCLUSIVE, row locks of one batch at a time | rows ~600]"), "{text}");
    assert!(text.contains("[SHARE UPDATE EXCLUSIVE (CONCURRENTLY: reads and writes continue) | rows ~6000]"), "{text}");
    assert!(text.contains("ALTER TABLE \"calls\" VALIDATE CONSTRAINT \"calls_org_id_not_null\";"), "{text}");
    assert!(text.contains("note: table webhook_events is not declared"), "{text}");
    assert!(text.contains("note: replaced (--replace-access): policy calls_service on calls"), "{text}");
    // Nothing was written or changed.
    let mut conn = db.admin();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'tenancy'"), 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM calls WHERE org_id IS NULL"), 3959);
}

#[test]
fn import_writes_a_declaration_that_parses() {
    let db = legacy("convert_import");
    let path = plan_dir("convert_import.rs");
    let output = binary().args(["import", "--database-url", &db.admin_url(), "-o"]).arg(&path).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(&path).unwrap();
    let schema = tenancy_schema::parse_str("imported.rs", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let scope = |name: &str| schema.table(name).map(|t| t.scope);
    use tenancy_schema::Scope;
    assert_eq!(scope("organizations"), Some(Scope::Root));
    assert_eq!(scope("calls"), Some(Scope::Tenant));
    assert_eq!(scope("agents"), Some(Scope::Tenant), "user_id: tenant through the user's organization");
    assert_eq!(scope("plans"), Some(Scope::Global));
    let agents = schema.table("agents").unwrap();
    assert_eq!(agents.key().name, "id");
    assert_eq!(agents.column("user_id").unwrap().references.as_ref().unwrap().table, "users");
    assert!(text.contains("REVIEW"), "guesses are marked for review");
}

#[test]
fn a_busy_table_is_retried_with_backoff_then_stops_with_a_clear_message() {
    let db = legacy("convert_busy");
    let dir = plan_dir("convert_busy");
    let declaration = tenancy_migrate::declaration::load(None).unwrap();
    let plan_options =
        convert::Options { lock_timeout: "50ms".to_owned(), replace_access: true, ..convert::Options::default() };
    let plan = convert::plan_database(&mut db.admin(), &declaration, "public", &plan_options).unwrap();
    convert::write(&plan, &plan_options, &dir).unwrap();
    // A long transaction reading agents: ADD COLUMN cannot get its ACCESS EXCLUSIVE lock.
    let mut reader = db.admin();
    reader.batch_execute("BEGIN; LOCK TABLE agents IN ACCESS SHARE MODE;").unwrap();
    let mut conn = db.admin();
    let mut log = Vec::new();
    let retry = run::Retry { attempts: 3 };
    // Sessions the retries' autovacuum cancelling must leave alone: one in this database, one
    // in another (both were cancelled once, when pg_cancel_backend ran before the filters).
    let other = TestDb::new("convert_busy_bystander");
    let bystanders: Vec<_> = [db.admin_url(), other.admin_url()]
        .into_iter()
        .map(|url| {
            std::thread::spawn(move || {
                <PgConnection as diesel::Connection>::establish(&url)
                    .unwrap()
                    .batch_execute("SELECT pg_sleep(1.5)")
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let err = run::apply_dir(&mut conn, &dir, run::RunOptions { retry, ..options() }, &mut |l| log.push(l.to_owned()))
        .unwrap_err();
    for bystander in bystanders {
        assert_eq!(bystander.join().unwrap(), Ok(()), "a session that is not autovacuum was cancelled");
    }
    let message = err.to_string();
    assert!(matches!(err, Error::LockTimeout { attempts: 3, .. }), "{message}");
    assert!(message.contains("ALTER TABLE \"agents\" ADD COLUMN IF NOT EXISTS \"org_id\" uuid"), "{message}");
    assert!(message.contains("rerun apply later (it resumes here)"), "{message}");
    let retries: Vec<&String> = log.iter().filter(|l| l.contains("lock_timeout")).collect();
    assert_eq!(retries.len(), 2, "{log:#?}");
    assert!(retries[0].contains("retry 2/3 in 200 ms") && retries[1].contains("retry 3/3 in 400 ms"), "{log:#?}");
    // Once the reader is gone, the rerun resumes and finishes.
    reader.batch_execute("COMMIT").unwrap();
    apply_dir(&mut conn, &dir).expect("the rerun completes");
    assert_eq!(errors_and_warnings(&mut conn), Vec::<String>::new());
}

/// The live facts of `fixtures/legacy_app.sql` as tenancy-codegen's planner tests read them
/// (`tenancy-codegen/fixtures/legacy_app.facts.json`): fails when they are stale; rewrite them
/// with `UPDATE_FIXTURES=1 cargo test -p tenancy-migrate --test it facts_fixture`.
#[test]
fn the_planner_facts_fixture_matches_the_legacy_database() {
    let db = legacy("convert_facts_fixture");
    let mut conn = db.admin();
    let declaration = tenancy_migrate::declaration::load(None).unwrap();
    let mut facts = tenancy_migrate::catalog::load_facts(&mut conn, "public", &declaration.settings.app_role).unwrap();
    // The session row names this test's database and server: fixed, so the file is stable.
    let session = tenancy_codegen::catalog::SESSION;
    facts.rows.insert(
        session,
        vec![r#"{"database": "legacy_app", "server_version": "15", "role": "postgres", "superuser": true, "bypass_rls": true}"#.to_owned()],
    );
    let catalog = tenancy_migrate::catalog::load(&mut conn, "public", &declaration.settings.app_role).unwrap();
    let live = convert::load_live(&mut conn, &declaration, &catalog, "public").unwrap();
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "generated": "by tenancy-migrate/tests/it/convert.rs (UPDATE_FIXTURES=1) from fixtures/legacy_app.sql. Do not edit by hand.",
        "facts": facts,
        "live": live
    })).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tenancy-codegen/fixtures/legacy_app.facts.json");
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is stale: rerun with UPDATE_FIXTURES=1 (and review the planner snapshots it changes)",
        path.display()
    );
}
