//! The conversion planner without a database: the live facts of tenancy-migrate's
//! `fixtures/legacy_app.sql` (serialized in `fixtures/legacy_app.facts.json`, kept fresh by a test
//! of tenancy-migrate) and this workspace's declaration in, the whole plan out — every file and
//! the dry run as insta snapshots — plus refusals and edge cases built from edited facts.

use super::files::{files, render_dry_run};
use super::{Live, Options, plan};
use crate::catalog::{Catalog, Facts, Query};
use crate::error::Planning;
use tenancy_schema::Schema;

const FACTS: &str = include_str!("../../fixtures/legacy_app.facts.json");
const DECLARATION: &str = include_str!("../../../tenancy-schema/schema/tenancy.rs");

fn inputs() -> (Facts, Live, Schema) {
    let value: serde_json::Value = serde_json::from_str(FACTS).expect("the fixture is JSON");
    let facts: Facts = serde_json::from_value(value["facts"].clone()).expect("facts");
    let live: Live = serde_json::from_value(value["live"].clone()).expect("live facts");
    let schema = tenancy_schema::parse_str("tenancy.rs", DECLARATION).expect("the workspace declaration");
    (facts, live, schema)
}

fn options() -> Options {
    Options { baseline: vec!["0001".to_owned()], replace_access: true, ..Options::default() }
}

#[test]
fn the_legacy_fixture_plan_is_stable() {
    let (facts, live, schema) = inputs();
    let catalog = Catalog::new(&facts).unwrap();
    let plan = plan(&catalog, &live, &schema, &options()).unwrap();
    let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 12, "{names:?}");
    let mut all = String::new();
    for step in &plan.steps {
        for (file, text) in files(step, &options()) {
            all.push_str(&format!("==> {}/{file}\n{text}\n", step.name));
        }
    }
    insta::assert_snapshot!("legacy_app_plan_files", all);
    insta::assert_snapshot!("legacy_app_dry_run", render_dry_run(&plan, &options()));
}

/// Replaces the rows of one catalog query.
fn with_rows(facts: &Facts, query: Query, edit: impl FnOnce(&mut Vec<serde_json::Value>)) -> Facts {
    let mut rows: Vec<serde_json::Value> =
        facts.rows[&query].iter().map(|r| serde_json::from_str(r).unwrap()).collect();
    edit(&mut rows);
    let mut facts = facts.clone();
    facts.rows.insert(query, rows.iter().map(|r| r.to_string()).collect());
    facts
}

#[test]
fn a_bypassing_app_role_is_refused() {
    let (facts, live, schema) = inputs();
    let facts = with_rows(&facts, Query::Roles, |rows| {
        rows.clear();
        rows.push(serde_json::json!({"name": "app_user", "superuser": false, "bypass_rls": true, "inherit": false}));
    });
    let err = plan(&Catalog::new(&facts).unwrap(), &live, &schema, &options()).map(|_| "planned").unwrap_err();
    assert_eq!(err.planning, Planning::Conversion);
    assert_eq!(
        err.to_string(),
        "cannot plan the conversion of app role app_user: it is SUPERUSER or BYPASSRLS, so row-level security would never apply to it; run ALTER ROLE \"app_user\" NOSUPERUSER NOBYPASSRLS first"
    );
}

#[test]
fn a_text_org_column_is_refused_and_a_keyless_backfill_too() {
    let (facts, live, schema) = inputs();
    let text_org = with_rows(&facts, Query::Columns, |rows| {
        for row in rows.iter_mut().filter(|r| r["table"] == "calls" && r["name"] == "org_id") {
            row["type"] = "text".into();
        }
    });
    let err = plan(&Catalog::new(&text_org).unwrap(), &live, &schema, &options()).map(|_| "planned").unwrap_err();
    assert!(err.to_string().contains("table calls: its org_id column is text, not uuid"), "{err}");
    // Without a unique index on its key, a table that needs a backfill cannot be batched.
    let keyless = with_rows(&facts, Query::Indexes, |rows| rows.retain(|r| r["table"] != "agents"));
    let err = plan(&Catalog::new(&keyless).unwrap(), &live, &schema, &options()).map(|_| "planned").unwrap_err();
    assert!(
        err.to_string().contains("table agents: its rows need an organization, but its key id has no unique index"),
        "{err}"
    );
}

#[test]
fn an_already_converted_database_needs_no_steps_but_the_baseline() {
    // A database in the declared state: the plan of a plan is empty. Simulate it by planning the
    // legacy fixture, then checking the converted shape's facts would be those of a fresh
    // database — here, more cheaply: a planner given no tables plans only what creates them.
    let (facts, live, schema) = inputs();
    let empty = with_rows(&facts, Query::Tables, |rows| rows.clear());
    let empty = with_rows(&empty, Query::Columns, |rows| rows.clear());
    let empty = with_rows(&empty, Query::Constraints, |rows| rows.clear());
    let empty = with_rows(&empty, Query::Indexes, |rows| rows.clear());
    let empty = with_rows(&empty, Query::Policies, |rows| rows.clear());
    let empty = with_rows(&empty, Query::Triggers, |rows| rows.clear());
    let plan = plan(&Catalog::new(&empty).unwrap(), &live, &schema, &options()).unwrap();
    let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
    // prepare creates every table; tenant_fks has nothing left (keys between new tables are in
    // prepare), security secures them, baseline records them.
    assert_eq!(names, ["0001_prepare", "0002_security", "0003_baseline"]);
    let creates = plan.steps[0].up.iter().filter(|s| matches!(s.ddl, crate::ddl::Ddl::CreateTable { .. })).count();
    assert_eq!(creates, schema.tables.len());
}

#[test]
fn a_broken_facts_row_is_an_error_naming_the_query() {
    let (facts, _, _) = inputs();
    let broken = with_rows(&facts, Query::Policies, |rows| rows[0]["command"] = "?".into());
    let err = Catalog::new(&broken).unwrap_err();
    assert_eq!(err.query, "policies");
}

#[test]
fn rows_of_missing_organizations_and_rows_without_a_strategy_are_refused_together() {
    let (facts, mut live, mut schema) = inputs();
    let catalog = Catalog::new(&facts).unwrap();
    // The 61 calls of a deleted organization, with nothing declared about them.
    schema.tables.iter_mut().find(|t| t.name == "calls").unwrap().missing_org = None;
    // And rows without an organization in a table that declares no strategy.
    let census = live.placement.get_mut("products").unwrap();
    (census.null_rows, census.null_keys) = (2, vec!["7".to_owned(), "9".to_owned()]);
    schema.tables.iter_mut().find(|t| t.name == "products").unwrap().backfill = None;
    let err = plan(&catalog, &live, &schema, &options()).map(|_| "planned").unwrap_err().to_string();
    assert!(err.contains("2 tables"), "{err}");
    assert!(
        err.contains("table calls: 61 rows name an organization that does not exist (id 97, 194, 291, 388, 485)"),
        "{err}"
    );
    assert!(err.contains("table products: 2 rows have no organization (id 7, 9)"), "{err}");
    // Where every row already names an existing organization, no strategy is needed: no backfill.
    let census = live.placement.get_mut("products").unwrap();
    (census.null_rows, census.null_keys) = (0, Vec::new());
    schema.tables.iter_mut().find(|t| t.name == "calls").unwrap().missing_org =
        Some(tenancy_schema::MissingOrg::Delete);
    let plan = plan(&catalog, &live, &schema, &options()).unwrap();
    assert!(!plan.steps.iter().any(|s| s.name.ends_with("backfill_products")));
    let calls = plan.steps.iter().find(|s| s.name.ends_with("backfill_calls")).unwrap();
    let sql = calls.up.iter().map(|s| s.ddl.to_string()).collect::<String>();
    assert!(sql.contains(r#"DELETE FROM "calls" AS t WHERE t."org_id" IS NOT NULL AND NOT EXISTS"#), "{sql}");
}

#[test]
fn access_tenancy_does_not_grant_is_taken_only_when_the_user_says_so() {
    let (facts, live, schema) = inputs();
    let catalog = Catalog::new(&facts).unwrap();
    let options = Options { replace_access: false, ..options() };
    let err = plan(&catalog, &live, &schema, &options).map(|_| "planned").unwrap_err().to_string();
    assert!(err.contains("the plan would take away 6 grants that tenancy's model does not grant"), "{err}");
    assert!(err.contains("INSERT, DELETE on organizations held by app_user"), "{err}");
    assert!(
        err.contains("policy calls_service on calls (PERMISSIVE FOR ALL TO app_user USING (true) WITH CHECK (true))"),
        "{err}"
    );
    assert!(err.contains("--replace-access"), "{err}");
}
