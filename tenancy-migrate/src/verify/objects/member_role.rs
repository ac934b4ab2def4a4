//! `member_role`: every role the app role is a member of — directly or through others, whatever
//! INHERIT says — is tried: A switches to it (`SET LOCAL ROLE`), reads every isolated table, and
//! deletes from every one (`member_role_write`, foreign-key triggers off when the connecting
//! role may, so only privileges and policies decide). A role that owns the tables, bypasses
//! row-level security or has policies of its own shows or changes other organizations' rows.

use super::{Around, quoted};
use crate::error::Result;
use crate::verify::Org;
use crate::verify::probe::{Probe, Watch, field};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Cell, Outcome, VerifiedObject};

pub fn run(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let app = quoted(&x.runner.schema.settings.app_role);
    let roles = x.read(
        "listing the roles the app role is a member of",
        &format!(
            "WITH RECURSIVE m(roleid) AS (
               SELECT a.roleid FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.member WHERE r.rolname = {app}
               UNION SELECT a.roleid FROM pg_catalog.pg_auth_members a JOIN m ON a.member = m.roleid)
             SELECT r.rolname AS name FROM m JOIN pg_catalog.pg_roles r ON r.oid = m.roleid ORDER BY 1"
        ),
    )?;
    let mut objects = Vec::new();
    for role in roles {
        let name = role["name"].as_str().unwrap_or_default().to_owned();
        let probe = Probe::query(x.claim_a(), x.other_rows_sql()).prelude(format!("SET LOCAL ROLE {}", ident(&name)));
        let (evidence, observed) = x.runner.run(x.conn, &probe);
        let outcome = match field(&observed.answer, "other") {
            Some(other) if other > 0 => Outcome::Leaked,
            _ => Outcome::Blocked,
        };
        let cell = Cell { attack: "member_role".to_owned(), expected: Outcome::Blocked, outcome, evidence };
        objects.push(VerifiedObject { object: format!("role {name}"), cell });
        if let Some(cell) = write(x, &name) {
            objects.push(VerifiedObject { object: format!("role {name}"), cell });
        }
    }
    Ok(objects)
}

/// As the member role, `DELETE` from every isolated table (one `DO` block, a table it may not
/// delete from skipped); B's rows watched.
fn write(x: &mut Around<'_, '_>, role: &str) -> Option<Cell> {
    let isolated = x.isolated();
    if isolated.is_empty() {
        return None;
    }
    let deletes: Vec<String> = isolated
        .iter()
        .map(|t| format!("BEGIN DELETE FROM {}; EXCEPTION WHEN insufficient_privilege THEN NULL; END;", ident(&t.name)))
        .collect();
    let watched: Vec<String> = isolated
        .iter()
        .map(|t| format!("SELECT tableoid, ctid, xmin FROM {} WHERE {}", ident(&t.name), x.belongs(t, Org::B)))
        .collect();
    let watch = Watch {
        label: "B's rows of every isolated table".to_owned(),
        from: format!("FROM ({}) b", watched.join(" UNION ALL ")),
        org: Some(Org::B),
    };
    let mut probe = Probe::write(x.claim_a(), format!("DO $tenancy$ BEGIN {} END $tenancy$", deletes.join(" ")), watch)
        .prelude(format!("SET LOCAL ROLE {}", ident(role)));
    if x.runner.superuser && !x.runner.citus {
        probe = probe.setup("SET LOCAL session_replication_role = replica");
    }
    let (evidence, observed) = x.runner.run(x.conn, &probe);
    let outcome = if observed.setup_failed() {
        Outcome::Error
    } else if observed.changed() {
        Outcome::Leaked
    } else {
        Outcome::Blocked
    };
    Some(Cell { attack: "member_role_write".to_owned(), expected: Outcome::Blocked, outcome, evidence })
}
