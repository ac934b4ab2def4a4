//! `harden`: each REVOKE it applies turns verify's info cell for that channel blocked, it is
//! idempotent, `--dry-run` changes nothing, and an app role that can log in gets a login role of
//! its own only when asked.

use crate::support::{TestDb, count};
use tenancy_migrate::harden::{Done, harden};
use tenancy_migrate::verify;
use tenancy_schema::report::Outcome;

fn object(v: &tenancy_schema::report::Verification, attack: &str) -> Outcome {
    v.objects.iter().find(|o| o.cell.attack == attack).unwrap_or_else(|| panic!("no {attack}")).cell.outcome
}

#[test]
fn harden_closes_the_channels_verify_reports_and_is_idempotent() {
    let db = TestDb::migrated("harden");
    let schema = tenancy_migrate::declaration::load(None).unwrap();
    let mut admin = db.admin();
    let before = verify::verify(&mut admin, &schema).unwrap();
    assert_eq!(object(&before, "backend_activity"), Outcome::Info);
    assert_eq!(object(&before, "backend_signal"), Outcome::Info);
    assert!(before.notes.iter().any(|n| n.code == "temporary_objects"));

    let planned = harden(&mut admin, &schema, None, true).unwrap();
    assert!(planned.iter().any(|(_, d)| *d == Done::WouldApply));
    let again = verify::verify(&mut admin, &schema).unwrap();
    assert_eq!(object(&again, "backend_signal"), Outcome::Info, "--dry-run changed nothing");

    let applied = harden(&mut admin, &schema, None, false).unwrap();
    let done: Vec<(&str, &Done)> = applied.iter().map(|(s, d)| (s.what.as_str(), d)).collect();
    assert_eq!(applied.iter().filter(|(_, d)| *d == Done::Applied).count(), 4, "{done:?}");
    assert!(applied.iter().all(|(_, d)| matches!(d, Done::Applied | Done::Already)), "{done:?}");

    let after = verify::verify(&mut admin, &schema).unwrap();
    assert!(verify::passed(&after));
    assert_eq!(object(&after, "backend_activity"), Outcome::Blocked);
    assert_eq!(object(&after, "backend_signal"), Outcome::Blocked);
    assert!(!after.notes.iter().any(|n| n.code == "temporary_objects"));
    // As the application: no large objects, no temporary tables.
    let mut app = db.app();
    for refused in ["SELECT lo_create(0)", "CREATE TEMP TABLE t (x int)", "SELECT pg_cancel_backend(0)"] {
        let err = crate::support::exec(&mut app, refused).expect_err(refused);
        assert!(err.to_string().contains("permission denied"), "{refused}: {err}");
    }
    // Monitoring roles keep what they had.
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) AS n FROM pg_roles WHERE has_table_privilege('pg_read_all_stats', 'pg_catalog.pg_stat_activity', 'SELECT') AND rolname = 'pg_read_all_stats'"
        ),
        1
    );

    let second = harden(&mut admin, &schema, None, false).unwrap();
    assert!(second.iter().all(|(_, d)| *d == Done::Already), "idempotent: {second:?}");
}

#[test]
fn an_app_role_that_logs_in_gets_a_login_role_only_when_asked() {
    let db = TestDb::migrated("harden_login");
    let mut schema = tenancy_migrate::declaration::load(None).unwrap();
    let mut admin = db.admin();
    // A role of this test's own standing in for an app role the application logs in as.
    crate::support::exec(
        &mut admin,
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'harden_app') THEN
           CREATE ROLE harden_app LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$",
    )
    .unwrap();
    crate::support::exec(&mut admin, "ALTER ROLE harden_app LOGIN").unwrap();
    schema.settings.app_role = "harden_app".to_owned();
    let advised = harden(&mut admin, &schema, None, false).unwrap();
    let (_, login) = advised.last().unwrap();
    assert!(matches!(login, Done::Advice(a) if a.contains("--login-role")), "{login:?}");
    assert_eq!(count(&mut admin, "SELECT count(*) AS n FROM pg_roles WHERE rolname = 'harden_app' AND rolcanlogin"), 1);

    let fixed = harden(&mut admin, &schema, Some("harden_app_login"), false).unwrap();
    assert_eq!(fixed.last().unwrap().1, Done::Applied);
    assert_eq!(
        count(&mut admin, "SELECT count(*) AS n FROM pg_roles WHERE rolname = 'harden_app' AND NOT rolcanlogin"),
        1
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) AS n FROM pg_roles r JOIN pg_db_role_setting s ON s.setrole = r.oid
             WHERE r.rolname = 'harden_app_login' AND r.rolcanlogin AND NOT r.rolinherit
               AND 'role=harden_app' = ANY (s.setconfig) AND pg_has_role(r.oid, 'harden_app', 'MEMBER')"
        ),
        1
    );
}
