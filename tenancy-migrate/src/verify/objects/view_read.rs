//! `view_read`: every view and materialized view the app role can read — in any schema it can
//! use, not only the scanned one — that reads an isolated table is read as A, with B's rows and
//! without them (a materialized view refreshed each time). A view without `security_invoker`
//! checks policies as its owner; a materialized view has no row-level security at all.

use super::{Around, quoted};
use crate::error::Result;
use tenancy_codegen::sql::ident;
use tenancy_schema::report::VerifiedObject;

pub fn run(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let isolated: Vec<String> = x.isolated().iter().map(|t| quoted(&t.name)).collect();
    if isolated.is_empty() {
        return Ok(Vec::new());
    }
    let views = x.read(
        "listing the views the app role can read",
        &format!(
            "SELECT DISTINCT n.nspname AS schema, v.relname AS name, v.relkind::text AS kind
             FROM pg_catalog.pg_class v
             JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace
             JOIN pg_catalog.pg_rewrite r ON r.ev_class = v.oid
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
                  AND d.refclassid = 'pg_catalog.pg_class'::regclass
             JOIN pg_catalog.pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid
             WHERE v.relkind IN ('v', 'm') AND t.relnamespace IN {schemas} AND t.relname IN ({tables})
               AND pg_catalog.has_schema_privilege({app}, n.oid, 'USAGE')
               AND pg_catalog.has_table_privilege({app}, v.oid, 'SELECT')
             ORDER BY 1, 2",
            schemas = x.namespaces(),
            tables = isolated.join(", "),
            app = quoted(&x.runner.schema.settings.app_role),
        ),
    )?;
    let mut objects = Vec::new();
    for view in views {
        let (schema, name) = (view["schema"].as_str().unwrap_or_default(), view["name"].as_str().unwrap_or_default());
        let qualified = format!("{}.{}", ident(schema), ident(name));
        let shown =
            if schema == x.runner.schema.settings.schema { name.to_owned() } else { format!("{schema}.{name}") };
        let (setup, what) = match view["kind"].as_str() {
            Some("m") => (vec![format!("REFRESH MATERIALIZED VIEW {qualified}")], "materialized view"),
            _ => (Vec::new(), "view"),
        };
        let select = format!("SELECT to_jsonb(v) AS r FROM {qualified} v");
        objects.push(x.differential(format!("{what} {shown}"), "view_read", &setup, &select));
    }
    Ok(objects)
}
