//! Objects the app role can create: tables or functions in a schema (`schema-create`: it can
//! shadow functions on a careless search_path, and own tables whose foreign keys probe other
//! organizations' keys), and temporary objects (`temp-objects`, information: granted to PUBLIC
//! by default, not a leak by itself).

use crate::catalog::{GRANTS, GrantKind};
use crate::scan::{Code, Context, On};
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Finding, Severity};

pub const SCHEMA_CREATE: Code = Code { code: "schema-create", severity: Severity::Error, category: "privilege" };
pub const TEMP: Code = Code { code: "temp-objects", severity: Severity::Info, category: "privilege" };
pub const CODES: &[Code] = &[SCHEMA_CREATE, TEMP];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let role = cx.app_role();
    for grant in cx.catalog.grants.iter() {
        match grant.kind {
            GrantKind::Schema if grant.has("CREATE") => out.push(SCHEMA_CREATE.finding(
                On::global(&grant.name),
                format!("{role} can create objects in schema {}", grant.name),
                format!(
                    "REVOKE CREATE ON SCHEMA {} FROM {} (and from PUBLIC, if granted there)",
                    ident(&grant.name),
                    ident(role)
                ),
                cx.catalog.evidence(&GRANTS, Some(&grant.name)),
            )),
            GrantKind::Database if grant.has("TEMPORARY") => out.push(TEMP.finding(
                On::global(&grant.name),
                format!("{role} can create temporary objects in database {}", grant.name),
                format!(
                    "REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC, {} where nothing else needs it",
                    ident(&grant.name),
                    ident(role)
                ),
                cx.catalog.evidence(&GRANTS, Some(&grant.name)),
            )),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::case;

    #[test]
    fn create_on_a_schema_is_found() {
        case(
            "schema_create",
            "schema-create",
            "GRANT CREATE ON SCHEMA public TO app_user",
            "REVOKE CREATE ON SCHEMA public FROM app_user",
        );
    }

    #[test]
    fn temporary_objects_are_found() {
        case(
            "temp_objects",
            "temp-objects",
            "DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO app_user', current_database()); END $$",
            "DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM app_user', current_database()); END $$",
        );
    }
}
