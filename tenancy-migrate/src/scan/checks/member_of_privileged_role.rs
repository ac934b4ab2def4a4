//! `member-of-privileged-role`: the app role is a member (directly or through other roles,
//! whatever INHERIT says — `SET ROLE` works either way) of a role that is SUPERUSER, has
//! BYPASSRLS, or owns tables: one `SET ROLE` and row-level security no longer applies.

use crate::catalog::{GRANTS, GrantKind};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "member-of-privileged-role", severity: Severity::Error, category: "role" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let role = cx.app_role();
    for grant in cx.catalog.grants.iter().filter(|g| g.kind == GrantKind::MemberOf && !g.privileges.is_empty()) {
        out.push(CODE.finding(
            On::global(&grant.name),
            format!(
                "{role} is a member of {} ({}): after SET ROLE {} row-level security does not apply",
                grant.name,
                grant.privileges.join(", "),
                grant.name
            ),
            format!("REVOKE {} FROM {} (find the path with pg_auth_members)", ident(&grant.name), ident(role)),
            cx.catalog.evidence(&GRANTS, Some(&grant.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case_also;

    // The app role is cluster-wide; the role granted to it here is a NOLOGIN role of this test's
    // own that owns a table of this test's database only.
    #[test]
    fn membership_in_a_table_owner_is_found() {
        case_also(
            "member_of_owner",
            "member-of-privileged-role",
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scan_member_owner') THEN
               CREATE ROLE scan_member_owner NOLOGIN; END IF; END $$;
             CREATE TABLE owned_elsewhere (id int);
             ALTER TABLE owned_elsewhere OWNER TO scan_member_owner;
             GRANT scan_member_owner TO app_user;",
            "REVOKE scan_member_owner FROM app_user; DROP TABLE owned_elsewhere;",
            &["table-not-declared"],
        );
    }

    // Through a NOINHERIT role, which `pg_has_role(..., 'USAGE')` would not see: SET ROLE still
    // reaches the table owner at the end of the chain. (An owner of this test's database only:
    // a BYPASSRLS role would show in every test's scan running alongside.)
    #[test]
    fn membership_through_a_noinherit_role_is_found() {
        case_also(
            "member_of_noinherit",
            "member-of-privileged-role",
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scan_member_gate') THEN
                 CREATE ROLE scan_member_gate NOLOGIN NOINHERIT; END IF;
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scan_member_owner2') THEN
                 CREATE ROLE scan_member_owner2 NOLOGIN; END IF;
             END $$;
             CREATE TABLE owned_behind_a_gate (id int);
             ALTER TABLE owned_behind_a_gate OWNER TO scan_member_owner2;
             GRANT scan_member_owner2 TO scan_member_gate;
             GRANT scan_member_gate TO app_user;",
            "REVOKE scan_member_gate FROM app_user; DROP TABLE owned_behind_a_gate;",
            &["table-not-declared"],
        );
    }
}
