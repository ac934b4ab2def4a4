//! `view_read`: every view and materialized view the app role can read that reads an isolated
//! table is read as A, with B's rows and without them (a materialized view refreshed each time).
//! A view without `security_invoker` checks policies as its owner; a materialized view has no
//! row-level security at all.

use super::Around;
use crate::catalog::ViewKind;
use crate::error::Result;
use tenancy_codegen::sql::ident;
use tenancy_schema::Scope;
use tenancy_schema::report::VerifiedObject;

pub fn run(x: &mut Around<'_, '_>) -> Result<Vec<VerifiedObject>> {
    let schema = x.runner.schema;
    let views: Vec<(String, ViewKind)> = x
        .catalog
        .views
        .iter()
        .filter(|v| v.app_role_can_select == Some(true))
        .filter(|v| v.tables.iter().any(|t| schema.table(t).is_some_and(|t| t.scope != Scope::Global)))
        .map(|v| (v.name.clone(), v.kind))
        .collect();
    let mut objects = Vec::new();
    for (name, kind) in views {
        let qualified = format!("{}.{}", ident(&x.catalog.schema), ident(&name));
        let (setup, what) = match kind {
            ViewKind::Materialized => (vec![format!("REFRESH MATERIALIZED VIEW {qualified}")], "materialized view"),
            ViewKind::View => (Vec::new(), "view"),
        };
        let select = format!("SELECT to_jsonb(v) AS r FROM {qualified} v");
        objects.push(x.differential(format!("{what} {name}"), "view_read", &setup, &select));
    }
    Ok(objects)
}
