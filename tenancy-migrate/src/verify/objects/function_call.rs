//! `function_call`: every SECURITY DEFINER function of the schema the app role can execute
//! (trigger functions aside) is called as A — with NULL for each argument — with B's rows and
//! without them. A definer function runs as its owner, usually exempt from row-level security.
//! `auth_org_id()` (the signed claim's verifier is a definer) is attacked by `claim_forgery`.

use super::{Around, quoted};
use crate::error::Result;
use tenancy_codegen::sql::ident;
use tenancy_schema::report::VerifiedObject;

pub fn run(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let app = quoted(&x.runner.schema.settings.app_role);
    let functions = x.read(
        "listing the SECURITY DEFINER functions the app role can call",
        &format!(
            "SELECT p.pronamespace::regnamespace::text AS schema, p.proname AS name, p.oid::regprocedure::text AS signature,
                    ARRAY(SELECT pg_catalog.format_type(t, NULL) FROM unnest(p.proargtypes) t) AS types
             FROM pg_catalog.pg_proc p
             WHERE p.pronamespace IN {} AND p.prosecdef AND p.prokind = 'f'
               AND p.prorettype <> 'pg_catalog.trigger'::regtype AND p.proname <> 'auth_org_id'
               AND pg_catalog.has_function_privilege({app}, p.oid, 'EXECUTE') ORDER BY 2",
            x.namespaces()
        ),
    )?;
    let mut objects = Vec::new();
    for function in functions {
        let name = function["name"].as_str().unwrap_or_default();
        let signature = function["signature"].as_str().unwrap_or_default().to_owned();
        let arguments: Vec<String> = function["types"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| format!("NULL::{}", t.as_str().unwrap_or("text")))
            .collect();
        // `regnamespace::text` is already an identifier as SQL writes it.
        let namespace = function["schema"].as_str().unwrap_or_default();
        let call = format!("{namespace}.{}({})", ident(name), arguments.join(", "));
        let select = format!("SELECT to_jsonb(f) AS r FROM {call} f");
        objects.push(x.differential(format!("function {signature}"), "function_call", &[], &select));
    }
    Ok(objects)
}
