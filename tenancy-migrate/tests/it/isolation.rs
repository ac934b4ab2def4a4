//! Row-level security as the app role (NOSUPERUSER, NOBYPASSRLS, not the owner): the only kind
//! of session these assertions use. The superuser connection only loads fixtures.

use crate::support::{TestDb, count, exec};
use diesel::{Connection, PgConnection};

const ORG_A: &str = "00000000-0000-4000-8000-00000000000a";
const ORG_B: &str = "00000000-0000-4000-8000-00000000000b";

fn fixture(test: &str) -> TestDb {
    let db = TestDb::migrated(test);
    let mut admin = db.admin();
    for sql in [
        format!("INSERT INTO organizations (id, name, slug) VALUES ('{ORG_A}', 'A', 'a'), ('{ORG_B}', 'B', 'b')"),
        // f1 is a member of A and B, f2 of B only, f3 of no organization.
        "INSERT INTO users (id, email) VALUES ('00000000-0000-4000-8000-0000000000f1', 'u@example.com'), \
         ('00000000-0000-4000-8000-0000000000f2', 'b-only@example.com'), ('00000000-0000-4000-8000-0000000000f3', 'nobody@example.com')"
            .to_owned(),
        format!(
            "INSERT INTO user_organizations (org_id, id, user_id) VALUES \
             ('{ORG_A}', 1, '00000000-0000-4000-8000-0000000000f1'), ('{ORG_B}', 2, '00000000-0000-4000-8000-0000000000f1'), \
             ('{ORG_B}', 3, '00000000-0000-4000-8000-0000000000f2')"
        ),
        format!(
            "INSERT INTO contacts (org_id, id, user_id, full_name) VALUES \
             ('{ORG_A}', 1, '00000000-0000-4000-8000-0000000000f1', 'a1'), ('{ORG_A}', 2, '00000000-0000-4000-8000-0000000000f1', 'a2'), \
             ('{ORG_B}', 3, '00000000-0000-4000-8000-0000000000f1', 'b1')"
        ),
        format!(
            "INSERT INTO agents (org_id, id, user_id, name) VALUES \
             ('{ORG_A}', 10, '00000000-0000-4000-8000-0000000000f1', 'agent a'), ('{ORG_B}', 20, '00000000-0000-4000-8000-0000000000f1', 'agent b')"
        ),
        // Fixture rows carry explicit ids; move the identity sequences past them.
        "SELECT setval(pg_get_serial_sequence('contacts', 'id'), 100), setval(pg_get_serial_sequence('agents', 'id'), 100)".to_owned(),
    ] {
        exec(&mut admin, &sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    db
}

/// Runs `body` in a transaction with the claim set transaction-locally, then rolls back.
fn as_org<T>(conn: &mut PgConnection, org: Option<&str>, body: impl FnOnce(&mut PgConnection) -> T) -> T {
    let mut out = None;
    let _ = conn.transaction::<(), diesel::result::Error, _>(|conn| {
        if let Some(org) = org {
            exec(conn, &crate::support::claim_sql(org)).unwrap();
        }
        out = Some(body(conn));
        Err(diesel::result::Error::RollbackTransaction)
    });
    out.expect("body ran")
}

#[test]
fn the_app_role_is_not_privileged() {
    let db = fixture("iso_role");
    let mut app = db.app();
    assert_eq!(
        count(
            &mut app,
            "SELECT count(*) AS n FROM pg_roles WHERE rolname = current_user AND NOT rolsuper AND NOT rolbypassrls"
        ),
        1
    );
}

#[test]
fn org_a_sees_only_its_rows() {
    let db = fixture("iso_read");
    let mut app = db.app();
    as_org(&mut app, Some(ORG_A), |conn| {
        assert_eq!(count(conn, "SELECT count(*) AS n FROM contacts"), 2);
        assert_eq!(count(conn, &format!("SELECT count(*) AS n FROM contacts WHERE org_id = '{ORG_B}'")), 0);
        assert_eq!(count(conn, "SELECT count(*) AS n FROM organizations"), 1, "only its own organization");
    });
    as_org(&mut app, Some(ORG_B), |conn| assert_eq!(count(conn, "SELECT count(*) AS n FROM contacts"), 1));
}

#[test]
fn inserting_another_orgs_id_fails() {
    let db = fixture("iso_insert");
    let mut app = db.app();
    as_org(&mut app, Some(ORG_A), |conn| {
        let err = exec(
            conn,
            &format!("INSERT INTO contacts (org_id, user_id, full_name) VALUES ('{ORG_B}', '00000000-0000-4000-8000-0000000000f1', 'x')"),
        )
        .expect_err("insert into org B as org A must fail");
        assert!(err.to_string().contains("row-level security"), "{err}");
    });
    // Same-org insert works, and org_id defaults to the claim.
    as_org(&mut app, Some(ORG_A), |conn| {
        exec(conn, "INSERT INTO contacts (user_id, full_name) VALUES ('00000000-0000-4000-8000-0000000000f1', 'mine')")
            .unwrap();
        assert_eq!(
            count(conn, &format!("SELECT count(*) AS n FROM contacts WHERE full_name = 'mine' AND org_id = '{ORG_A}'")),
            1
        );
    });
}

#[test]
fn changing_org_id_is_rejected_by_the_trigger() {
    let db = fixture("iso_move");
    let mut app = db.app();
    as_org(&mut app, Some(ORG_A), |conn| {
        let err = exec(conn, &format!("UPDATE contacts SET org_id = '{ORG_B}' WHERE id = 1"))
            .expect_err("moving a row must fail");
        assert!(err.to_string().contains("org_id of a row in public.contacts cannot change"), "{err}");
    });
    // Even the table owner, who bypasses RLS, cannot move a row: the trigger still fires.
    let mut admin = db.admin();
    let err = exec(&mut admin, &format!("UPDATE contacts SET org_id = '{ORG_B}' WHERE id = 1")).expect_err("trigger");
    assert!(err.to_string().contains("cannot change"), "{err}");
}

#[test]
fn other_orgs_rows_cannot_be_updated_or_deleted() {
    let db = fixture("iso_write");
    let mut app = db.app();
    as_org(&mut app, Some(ORG_A), |conn| {
        assert_eq!(exec(conn, "UPDATE contacts SET full_name = 'pwned' WHERE id = 3").unwrap(), 0);
        assert_eq!(exec(conn, "DELETE FROM contacts WHERE id = 3").unwrap(), 0);
        assert_eq!(exec(conn, "UPDATE contacts SET full_name = 'ok' WHERE id = 1").unwrap(), 1);
    });
}

#[test]
fn missing_and_empty_claims_see_nothing_without_error() {
    let db = fixture("iso_claims");
    let mut app = db.app();
    as_org(&mut app, None, |conn| assert_eq!(count(conn, "SELECT count(*) AS n FROM contacts"), 0));
    as_org(&mut app, Some(""), |conn| assert_eq!(count(conn, "SELECT count(*) AS n FROM contacts"), 0));
    // After a transaction-local claim ends the setting is '' in the session: still no rows.
    as_org(&mut app, Some(ORG_A), |conn| assert_eq!(count(conn, "SELECT count(*) AS n FROM contacts"), 2));
    assert_eq!(count(&mut app, "SELECT count(*) AS n FROM contacts"), 0);
}

#[test]
fn a_row_cannot_reference_another_orgs_parent() {
    let db = fixture("iso_fk");
    let mut app = db.app();
    as_org(&mut app, Some(ORG_A), |conn| {
        // Agent 20 belongs to org B; the composite FK (org_id, agent_id) has no match in org A.
        let err = exec(conn, "INSERT INTO calls (agent_id, direction) VALUES (20, 'out')").expect_err("cross-org FK");
        assert!(err.to_string().contains("calls_agent_id_fkey"), "{err}");
    });
    as_org(&mut app, Some(ORG_A), |conn| {
        exec(conn, "INSERT INTO calls (agent_id, direction) VALUES (10, 'out')").expect("same-org FK works");
    });
}

#[test]
fn global_tables_are_read_only_to_the_app() {
    let db = fixture("iso_global");
    let mut admin = db.admin();
    exec(&mut admin, "INSERT INTO plans (name, monthly_price_cents) VALUES ('free', 0)").unwrap();
    let mut app = db.app();
    as_org(&mut app, Some(ORG_A), |conn| assert_eq!(count(conn, "SELECT count(*) AS n FROM plans"), 1));
    for write in [
        "INSERT INTO plans (name, monthly_price_cents) VALUES ('x', 1)",
        "UPDATE plans SET monthly_price_cents = 1",
        "DELETE FROM plans",
        "TRUNCATE plans",
    ] {
        let err = as_org(&mut app, Some(ORG_A), |conn| exec(conn, write).expect_err("read-only"));
        assert!(err.to_string().contains("permission denied"), "{write}: {err}");
    }
}

#[test]
fn an_organization_sees_only_its_members_among_the_users() {
    let db = fixture("iso_shared_users");
    let mut app = db.app();
    let emails = |conn: &mut PgConnection| {
        count(conn, "SELECT count(*) AS n FROM users WHERE email = 'u@example.com'") * 10
            + count(conn, "SELECT count(*) AS n FROM users WHERE email <> 'u@example.com'")
    };
    // A: its one member; B: both of its members; no claim: nobody. Never the unlinked user.
    assert_eq!(as_org(&mut app, Some(ORG_A), emails), 10);
    assert_eq!(as_org(&mut app, Some(ORG_B), emails), 11);
    assert_eq!(as_org(&mut app, None, emails), 0);
    assert_eq!(as_org(&mut app, Some(""), emails), 0);
    // B's membership rows stay invisible, so the policy's link cannot be borrowed.
    as_org(&mut app, Some(ORG_A), |conn| assert_eq!(count(conn, "SELECT count(*) AS n FROM user_organizations"), 1));
    for write in [
        "INSERT INTO users (email) VALUES ('new@example.com')",
        "UPDATE users SET full_name = 'x'",
        "DELETE FROM users",
    ] {
        let err = as_org(&mut app, Some(ORG_A), |conn| exec(conn, write).expect_err("shared tables are read-only"));
        assert!(err.to_string().contains("permission denied"), "{write}: {err}");
    }
}

#[test]
fn deleting_an_organization_cascades_to_its_rows_only() {
    let db = fixture("iso_cascade");
    let mut admin = db.admin();
    exec(&mut admin, &format!("INSERT INTO calls (org_id, agent_id, direction) VALUES ('{ORG_B}', 20, 'in')")).unwrap();
    exec(&mut admin, &format!("DELETE FROM organizations WHERE id = '{ORG_B}'")).unwrap();
    assert_eq!(count(&mut admin, "SELECT count(*) AS n FROM contacts"), 2);
    assert_eq!(count(&mut admin, &format!("SELECT count(*) AS n FROM calls WHERE org_id = '{ORG_B}'")), 0);
}
