//! Bad input at `apply`: one clear line on stderr, exit code 2, nothing changed.

use crate::support::{TestDb, count, exec};
use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_tenancy-migrate")).args(args).env_remove("DATABASE_URL").output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn assert_one_line_error(stderr: &str, expect: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(lines[0].starts_with("error: ") && lines[0].contains(expect), "expected `{expect}` in: {stderr}");
}

#[test]
fn unreachable_database() {
    let (code, stderr) = run(&["apply", "--database-url", "postgres://u:p@127.0.0.1:1/db"]);
    assert_eq!(code, 2);
    assert_one_line_error(&stderr, "cannot reach PostgreSQL at postgres://u:***@127.0.0.1:1/db");
    assert!(!stderr.contains(":p@"), "password is redacted");
}

#[test]
fn malformed_url() {
    let (code, stderr) = run(&["apply", "--database-url", "not a url"]);
    assert_eq!(code, 2);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn wrong_password() {
    let db = TestDb::new("err_password");
    let (code, stderr) = run(&["apply", "--database-url", &db.url_as("postgres", "wrong-password")]);
    assert_eq!(code, 2);
    assert_one_line_error(&stderr, "authentication failed");
}

#[test]
fn role_without_create_privilege() {
    let db = TestDb::new("err_no_create");
    let mut admin = db.admin();
    let _ = exec(&mut admin, "DROP ROLE IF EXISTS no_create_role");
    exec(&mut admin, "CREATE ROLE no_create_role LOGIN PASSWORD 'pw'").unwrap();
    let (code, stderr) = run(&["apply", "--database-url", &db.url_as("no_create_role", "pw")]);
    assert_eq!(code, 2);
    assert_one_line_error(&stderr, "permission denied");
    assert!(stderr.contains("GRANT CREATE ON SCHEMA public"), "says what to do: {stderr}");
    assert_eq!(
        count(&mut admin, "SELECT count(*) AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace"),
        0,
        "nothing was created"
    );
}

#[test]
fn no_wait_while_locked_exits_2_naming_the_holder() {
    let db = TestDb::new("err_locked");
    let mut holder = db.admin();
    exec(&mut holder, &format!("SELECT pg_advisory_lock({})", tenancy_migrate::migrate::LOCK_KEY)).unwrap();
    let (code, stderr) = run(&["apply", "--no-wait", "--database-url", &db.admin_url()]);
    assert_eq!(code, 2);
    assert_one_line_error(&stderr, "holds the migration lock");
}

#[test]
fn missing_database_url_is_a_usage_error() {
    let (code, stderr) = run(&["apply"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--database-url"), "{stderr}");
}

#[test]
fn help_is_complete() {
    let output = Command::new(env!("CARGO_BIN_EXE_tenancy-migrate")).arg("--help").output().unwrap();
    assert!(output.status.success());
    insta::assert_snapshot!("help", String::from_utf8_lossy(&output.stdout));
    let output = Command::new(env!("CARGO_BIN_EXE_tenancy-migrate")).args(["apply", "--help"]).output().unwrap();
    insta::assert_snapshot!("apply_help", String::from_utf8_lossy(&output.stdout));
}
