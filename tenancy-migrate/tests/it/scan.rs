//! scan end to end: the migrated workspace scans clean; the legacy fixture's whole report is a
//! golden file whose every evidence query, rerun, returns what the report says; hostile names;
//! a read-only role; the CLI's exit codes and bad input.

use crate::support::{TestDb, exec, texts};
use diesel::PgConnection;
use diesel::connection::SimpleConnection;
use std::process::Command;
use tenancy_migrate::scan::{self, Options};
use tenancy_schema::report::{Finding, Report};

const LEGACY: &str = include_str!("../../fixtures/legacy.sql");

fn workspace_declaration() -> tenancy_schema::Schema {
    tenancy_migrate::declaration::load(None).unwrap()
}

fn scan_with(conn: &mut PgConnection, options: &Options) -> Report {
    scan::scan(conn, &workspace_declaration(), options).unwrap_or_else(|e| panic!("scan: {e}"))
}

fn legacy(test: &str) -> TestDb {
    let db = TestDb::new(test);
    db.admin().batch_execute(LEGACY).expect("load the legacy fixture");
    db
}

fn run(args: &[&str]) -> (i32, String, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_tenancy-migrate")).args(args).env_remove("DATABASE_URL").output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs a finding's evidence again and checks it returns what the report says: the first
/// statement's rows (catalog queries) or first row (data checks).
fn assert_evidence_reruns(conn: &mut PgConnection, finding: &Finding) {
    let statements: Vec<&str> = finding.evidence.sql.split(";\n").collect();
    let first = statements[0].trim_end_matches(';');
    let rows = texts(conn, &format!("SELECT row_to_json(q)::text AS t FROM ({first}) q"));
    let expected: Vec<&str> = finding.evidence.result.lines().collect();
    let shown = if rows.is_empty() { vec!["(no rows)".to_owned()] } else { rows };
    if statements.len() == 1 {
        assert_eq!(shown, expected, "{}: evidence reruns differently", finding.cache_key);
    } else {
        assert_eq!(shown[0], expected[0], "{}: evidence reruns differently", finding.cache_key);
    }
}

#[test]
fn a_migrated_database_scans_clean() {
    let db = TestDb::migrated("scan_migrated");
    let report = scan_with(&mut db.admin(), &Options::default());
    // PUBLIC's TEMP on the database, PostgreSQL's default: information, not a problem of ours.
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["temp-objects"], "{:#?}", report.findings);
    assert_eq!((report.summary.errors, report.summary.warnings, report.summary.infos), (0, 0, 1));
    assert_eq!(report.summary.declared_tables, 28);
    assert_eq!(report.summary.tables_scanned, 28);
    assert_eq!((report.summary.rls_coverage.enabled, report.summary.rls_coverage.total), (24, 24));
    assert_eq!(report.summary.compliance_percent, 100.0);
    let (code, stdout, _) = run(&["scan", "--database-url", &db.admin_url(), "--fail-on", "warn"]);
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout, _) = run(&["scan", "--database-url", &db.admin_url(), "--fail-on", "info"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("temp-objects"), "{stdout}");
}

#[test]
fn legacy_database_golden_report() {
    let db = legacy("scan_legacy");
    let mut conn = db.admin();
    let mut report = scan_with(&mut conn, &Options::default());
    for finding in &report.findings {
        assert_evidence_reruns(&mut conn, finding);
    }
    report.generated_at = "[generated_at]".into();
    report.database.server_version = "[server_version]".into();
    insta::assert_snapshot!("legacy_report", serde_json::to_string_pretty(&report).unwrap());

    let (code, human, _) = run(&["scan", "--database-url", &db.admin_url()]);
    assert_eq!(code, 1, "errors at the default --fail-on error");
    insta::assert_snapshot!("legacy_human", human.replace(&report_version(&db), "[server_version]"));
}

fn report_version(db: &TestDb) -> String {
    texts(&mut db.admin(), "SELECT current_setting('server_version') AS t").remove(0)
}

#[test]
fn hostile_identifiers_do_not_break_the_scan() {
    let db = TestDb::migrated("scan_hostile");
    let long = "l".repeat(63);
    db.admin()
        .batch_execute(&format!(
            r#"CREATE TABLE "Robert'); DROP TABLE students;--" ("a ""quoted"" col" int, "select" text);
               CREATE TABLE "MixedCase Ünïcødé 表" ("ÄÖÜ" int);
               CREATE TABLE "{long}" ("{long}" int);
               CREATE TABLE "order" ("group" int);
               ALTER TABLE contacts ADD COLUMN "it's ""odd""" text;
               CREATE POLICY "pol'icy ""x""" ON contacts AS RESTRICTIVE TO app_user USING (true);
               CREATE VIEW "view 'of' calls" AS SELECT id FROM calls;"#
        ))
        .unwrap();
    let mut conn = db.admin();
    let report = scan_with(&mut conn, &Options::default());
    let tables: Vec<&str> =
        report.findings.iter().filter(|f| f.code == "table-not-declared").filter_map(|f| f.table.as_deref()).collect();
    assert_eq!(tables.len(), 4, "{tables:?}");
    assert!(tables.contains(&"Robert'); DROP TABLE students;--"));
    assert!(tables.contains(&"MixedCase Ünïcødé 表"));
    assert!(tables.contains(&long.as_str()));
    assert!(tables.contains(&"order"));
    assert!(report.findings.iter().any(|f| f.column.as_deref() == Some("it's \"odd\"")));
    assert!(report.findings.iter().any(|f| f.code == "view-without-security-invoker"));
    for finding in &report.findings {
        assert_evidence_reruns(&mut conn, finding);
    }
    assert_eq!(texts(&mut conn, "SELECT count(*)::text AS t FROM pg_class WHERE relname = 'contacts'"), ["1"]);
}

fn ensure_role(db: &TestDb, name: &str, attributes: &str) -> String {
    let password = "scan-test-password";
    db.admin()
        .batch_execute(&format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN CREATE ROLE {name}; END IF; END $$;
             ALTER ROLE {name} LOGIN PASSWORD '{password}' {attributes};"
        ))
        .unwrap();
    db.url_as(name, password)
}

#[test]
fn a_read_only_role_can_scan() {
    let db = legacy("scan_read_only");
    let admin_report = scan_with(&mut db.admin(), &Options::default());
    // What the scan needs: the catalog (PUBLIC by default), SELECT on the tables (pg_read_all_data)
    // and, for honest data counts, BYPASSRLS. No write privilege, no ownership.
    let url = ensure_role(&db, "tenancy_scanner", "NOSUPERUSER BYPASSRLS");
    db.admin().batch_execute("GRANT pg_read_all_data TO tenancy_scanner").unwrap();
    let mut conn = diesel::Connection::establish(&url).unwrap();
    assert!(exec(&mut conn, "CREATE TABLE t (x int)").is_err(), "the scanner cannot write");
    let report = scan_with(&mut conn, &Options::default());
    let keys = |r: &Report| r.findings.iter().map(|f| f.cache_key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&report), keys(&admin_report));

    // Without BYPASSRLS, tables under RLS get no data verdict rather than a filtered one.
    let url = ensure_role(&db, "tenancy_scanner_rls", "NOSUPERUSER NOBYPASSRLS");
    db.admin().batch_execute("GRANT pg_read_all_data TO tenancy_scanner_rls").unwrap();
    let mut conn = diesel::Connection::establish(&url).unwrap();
    let report = scan_with(&mut conn, &Options::default());
    let unverified: Vec<&str> =
        report.findings.iter().filter(|f| f.code == "data-unverified").filter_map(|f| f.table.as_deref()).collect();
    assert_eq!(unverified, ["call_logs", "calls", "leads", "products", "sellout_entries", "user_organizations"]);
    assert!(!report.findings.iter().any(|f| f.code == "org-id-null-rows"));
}

#[test]
fn missing_privileges_are_one_clear_line() {
    let db = legacy("scan_privileges");
    let url = ensure_role(&db, "tenancy_no_select", "NOSUPERUSER BYPASSRLS");
    let (code, _, stderr) = run(&["scan", "--database-url", &url]);
    assert_eq!(code, 2);
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error")).count(), 1, "{stderr}");
    assert!(stderr.contains("cannot read") && stderr.contains("--no-data"), "{stderr}");
    let (code, _, stderr) = run(&["scan", "--database-url", &url, "--no-data"]);
    assert_eq!(code, 1, "catalog-only scan works without SELECT: {stderr}");

    db.admin().batch_execute("REVOKE SELECT ON pg_catalog.pg_policy FROM PUBLIC").unwrap();
    let (code, _, stderr) = run(&["scan", "--database-url", &url, "--no-data"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read the catalog (policies): permission denied"), "{stderr}");
}

#[test]
fn cli_output_formats_ignore_file_and_exit_codes() {
    let db = legacy("scan_cli");
    let dir = std::env::temp_dir().join(format!("tenancy-scan-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("report.json");
    let out_arg = out.to_str().unwrap();
    let url = db.admin_url();
    let (code, stdout, _) = run(&["scan", "--database-url", &url, "--format", "json", "-o", out_arg]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    let report = Report::from_json(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let (_, stdout, _) = run(&["scan", "--database-url", &url, "--format", "json", "--no-data"]);
    let no_data = Report::from_json(&stdout).unwrap();
    assert!(no_data.findings.iter().all(|f| f.category != "data"));
    assert!(report.findings.iter().any(|f| f.category == "data"));

    // Suppress every error: exit 0 at --fail-on error, still 1 at warn.
    let ignore = dir.join("ignore.txt");
    let keys: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.severity == tenancy_schema::report::Severity::Error)
        .map(|f| f.cache_key.as_str())
        .collect();
    std::fs::write(&ignore, format!("# accepted risks\n\n{}\n", keys.join("\n"))).unwrap();
    let ignore_arg = ignore.to_str().unwrap();
    assert_eq!(run(&["scan", "--database-url", &url, "--ignore", ignore_arg]).0, 0);
    assert_eq!(run(&["scan", "--database-url", &url, "--ignore", ignore_arg, "--fail-on", "warn"]).0, 1);

    // Bad input: one line, exit 2, no report written.
    std::fs::write(&ignore, "rls-disabled:agents\nthis is not a key\n").unwrap();
    let (code, _, stderr) = run(&["scan", "--database-url", &url, "--ignore", ignore_arg]);
    assert_eq!(code, 2);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("invalid --ignore file {ignore_arg}:2: `this is not a key`")), "{stderr}");

    let (code, _, stderr) = run(&["scan", "--database-url", &url, "--fail-on", "critical"]);
    assert_eq!(code, 2);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid value 'critical' for '--fail-on"), "{stderr}");

    let (code, _, stderr) = run(&["scan", "--database-url", "postgres://u:p@127.0.0.1:1/db"]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with("error: cannot reach PostgreSQL") && stderr.trim().lines().count() == 1, "{stderr}");

    let bad = dir.join("bad.rs");
    std::fs::write(&bad, "#[tenancy(root)]\nstruct Org { #[key] id: Uuid, name: Strin }\n").unwrap();
    let (code, _, stderr) =
        run(&["scan", "--database-url", &url, "--declaration", bad.to_str().unwrap(), "-o", out_arg]);
    assert_eq!(code, 2);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("{}:2:", bad.display())), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reports_match_the_committed_json_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/report.schema.json")).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let db = legacy("scan_json_schema");
    let report = serde_json::to_value(scan_with(&mut db.admin(), &Options::default())).unwrap();
    let errors: Vec<String> =
        validator.iter_errors(&report).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema is not a rubber stamp: a foreign severity or a missing field is refused.
    let mut wrong = report.clone();
    wrong["findings"][0]["severity"] = "critical".into();
    assert!(!validator.is_valid(&wrong));
    let mut wrong = report;
    wrong["findings"][0].as_object_mut().unwrap().remove("evidence");
    assert!(!validator.is_valid(&wrong));
}

fn sarif_validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/sarif-schema-2.1.0.json")).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the SARIF 2.1.0 schema")
}

#[test]
fn scan_and_verify_write_valid_sarif() {
    let validator = sarif_validator();
    let check = |what: &str, text: &str| -> serde_json::Value {
        let sarif: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
        let errors: Vec<String> =
            validator.iter_errors(&sarif).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{what}: {errors:#?}");
        sarif
    };
    // scan: every finding a result, its rule among the rules, evidence in properties.
    let db = legacy("scan_sarif");
    let (code, stdout, stderr) = run(&["scan", "--database-url", &db.admin_url(), "--format", "sarif"]);
    assert_eq!(code, 1, "{stderr}");
    let sarif = check("scan", &stdout);
    let run0 = &sarif["runs"][0];
    let results = run0["results"].as_array().unwrap();
    let report = scan_with(&mut db.admin(), &Options::default());
    assert_eq!(results.len(), report.findings.len());
    let rules: Vec<&str> =
        run0["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(results.iter().all(|r| rules.contains(&r["ruleId"].as_str().unwrap())));
    let null_rows = results.iter().find(|r| r["ruleId"] == "org-id-null-rows").expect("a data finding");
    assert_eq!(null_rows["level"], "error");
    assert!(null_rows["properties"]["evidence"]["sql"].as_str().unwrap().contains("count"));
    assert!(
        null_rows["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].as_str().unwrap().starts_with("public.")
    );

    // verify: every cell a result (pass, fail, notApplicable).
    let migrated = TestDb::migrated("verify_sarif");
    let (code, stdout, stderr) = run(&["verify", "--database-url", &migrated.admin_url(), "--format", "sarif"]);
    assert_eq!(code, 0, "{stderr}");
    let sarif = check("verify", &stdout);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() > 500, "{} results", results.len());
    assert!(results.iter().all(|r| r["kind"] != "fail"));
    // The schema is not a rubber stamp.
    let mut wrong = sarif.clone();
    wrong["runs"][0]["results"][0]["kind"] = "maybe".into();
    assert!(!validator.is_valid(&wrong));
}

#[test]
fn logs_go_to_stderr_and_never_into_the_report() {
    let db = TestDb::migrated("scan_logging");
    let (code, stdout, stderr) = run(&["scan", "--database-url", &db.admin_url(), "--format", "json", "-vv"]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is the report alone");
    assert!(report["findings"].is_array());
    assert!(stderr.contains("catalog query"), "{stderr}");
    assert!(stderr.contains("connecting"), "{stderr}");
    // The URL's password is redacted.
    let password = db.admin_url().split(':').nth(2).unwrap().split('@').next().unwrap().to_owned();
    assert!(!stderr.contains(&format!(":{password}@")), "{stderr}");
    // Without -v, nothing but the command's own lines.
    let (_, _, quiet) = run(&["scan", "--database-url", &db.admin_url(), "--format", "json"]);
    assert!(!quiet.contains("catalog query"), "{quiet}");
}
