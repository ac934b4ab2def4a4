//! `member_role`: every role the app role is a member of — directly or through others, whatever
//! INHERIT says — is tried: A switches to it (`SET LOCAL ROLE`) and reads every isolated table.
//! A role that owns the tables or bypasses row-level security shows every organization's rows.

use super::{Around, quoted};
use crate::error::Result;
use crate::verify::probe::{Probe, field};
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
    }
    Ok(objects)
}
