//! `schema_create`: in every schema the app role can use, A creates a table. A role that can
//! create objects can shadow functions on a careless search_path, and own tables whose foreign
//! keys probe other organizations' keys.

use super::{Around, quoted};
use crate::error::Result;
use crate::verify::probe::Probe;
use tenancy_codegen::sql::ident;
use tenancy_schema::report::{Cell, Outcome, VerifiedObject};

pub fn run(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let app = quoted(&x.runner.schema.settings.app_role);
    let schemas = x.read(
        "listing the schemas the app role can use",
        &format!(
            "SELECT n.nspname AS name FROM pg_catalog.pg_namespace n
             WHERE pg_catalog.has_schema_privilege({app}, n.oid, 'USAGE')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)' ORDER BY 1"
        ),
    )?;
    let mut objects = Vec::new();
    for schema in schemas {
        let name = schema["name"].as_str().unwrap_or_default().to_owned();
        let sql = format!("CREATE TABLE {}.tenancy_verify_probe ()", ident(&name));
        let (evidence, observed) = x.runner.run(x.conn, &Probe::statement(x.claim_a(), sql));
        let outcome = if observed.answer.failed().is_none() { Outcome::Leaked } else { Outcome::Blocked };
        let cell = Cell { attack: "schema_create".to_owned(), expected: Outcome::Blocked, outcome, evidence };
        objects.push(VerifiedObject { object: format!("schema {name}"), cell });
    }
    Ok(objects)
}
