//! The app role: it exists (`app-role-missing`), and nothing lets it skip row-level security —
//! not SUPERUSER (`app-role-superuser`), not BYPASSRLS (`app-role-bypassrls`), not owning a table
//! or inheriting its owner's rights (`app-role-owner`; owners may disable RLS).

use crate::catalog::{ROLES, TABLES};
use crate::scan::{Code, Context, INTERNAL_TABLES, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const MISSING: Code = Code { code: "app-role-missing", severity: Severity::Error, category: "role" };
pub const SUPERUSER: Code = Code { code: "app-role-superuser", severity: Severity::Error, category: "role" };
pub const BYPASSRLS: Code = Code { code: "app-role-bypassrls", severity: Severity::Error, category: "role" };
pub const OWNER: Code = Code { code: "app-role-owner", severity: Severity::Error, category: "role" };
pub const CODES: &[Code] = &[MISSING, SUPERUSER, BYPASSRLS, OWNER];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let name = cx.app_role();
    let on = On::global(name);
    let Some(role) = cx.catalog.app_role() else {
        out.push(MISSING.finding(
            on,
            format!("the app role {name} does not exist"),
            format!("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS (the migrations create it)", ident(name)),
            cx.catalog.evidence(&ROLES, None),
        ));
        return;
    };
    let evidence = || cx.catalog.evidence(&ROLES, None);
    if role.superuser {
        out.push(SUPERUSER.finding(
            on,
            format!("the app role {name} is a superuser: row-level security does not apply to it"),
            format!("ALTER ROLE {} NOSUPERUSER", ident(name)),
            evidence(),
        ));
    }
    if role.bypass_rls {
        out.push(BYPASSRLS.finding(
            on,
            format!("the app role {name} has BYPASSRLS: row-level security does not apply to it"),
            format!("ALTER ROLE {} NOBYPASSRLS", ident(name)),
            evidence(),
        ));
    }
    // A superuser has every owner's rights; that is reported once, above.
    for table in cx.catalog.tables.iter().filter(|_| !role.superuser) {
        if table.app_role_owns != Some(true) || INTERNAL_TABLES.contains(&table.name.as_str()) {
            continue;
        }
        let how = if table.owner == name {
            "owns".to_owned()
        } else {
            format!("inherits the rights of {}, which owns", table.owner)
        };
        out.push(OWNER.finding(
            On::table(&table.name).detail(name),
            format!("the app role {name} {how} {}: it can disable or bypass its row-level security", table.name),
            format!("ALTER TABLE {} OWNER TO <the migrating role>", ident(&table.name)),
            cx.catalog.evidence(&TABLES, Some(&table.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn an_app_role_owning_a_table_is_found() {
        case(
            "app_role_owner",
            "app-role-owner",
            "ALTER TABLE agents OWNER TO app_user",
            "ALTER TABLE agents OWNER TO CURRENT_USER",
        );
    }

    // The app role is cluster-wide and shared by concurrent tests, so its SUPERUSER/BYPASSRLS
    // attributes are tested with the declaration pointing at a role of this test's own.
    #[test]
    fn a_bypassrls_app_role_is_found() {
        use crate::scan::testing::{DECLARATION, fixture};
        use crate::scan::{Options, scan};
        use diesel::connection::SimpleConnection;
        let declaration = DECLARATION.replace("#![tenancy(", "#![tenancy(app_role = \"scan_bypass_role\", ");
        let declaration = tenancy_schema::parse_str("fixture.rs", &declaration).unwrap();
        let db = fixture("app_role_bypassrls");
        let mut conn = db.admin();
        let codes = |conn: &mut diesel::PgConnection| -> Vec<String> {
            let report = scan(conn, &declaration, &Options { data: false, ..Options::default() }).unwrap();
            report.findings.into_iter().filter(|f| f.category == "role").map(|f| f.code).collect()
        };
        conn.batch_execute("DROP ROLE IF EXISTS scan_bypass_role").unwrap();
        assert_eq!(codes(&mut conn), ["app-role-missing"]);
        conn.batch_execute("CREATE ROLE scan_bypass_role BYPASSRLS SUPERUSER").unwrap();
        assert_eq!(codes(&mut conn), ["app-role-bypassrls", "app-role-superuser"]);
        conn.batch_execute("ALTER ROLE scan_bypass_role NOBYPASSRLS NOSUPERUSER").unwrap();
        assert!(codes(&mut conn).is_empty());
        conn.batch_execute("DROP ROLE scan_bypass_role").unwrap();
    }
}
