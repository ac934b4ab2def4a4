//! Declarations that must be refused, each with its exact diagnostic (file:line:col + hint).
//! `check_err(source, expect)` reads like documentation: input, then what the author sees.

use crate::parse_str;

const ROOT: &str = "#[tenancy(root)]\nstruct Organization { #[key] id: Uuid, name: String }\n";

#[track_caller]
fn check_err(source: &str, expect: &str) {
    match parse_str("decl.rs", source) {
        Ok(schema) => panic!("accepted an invalid declaration: {schema:#?}"),
        Err(diagnostics) => assert_eq!(diagnostics.to_string(), expect.trim()),
    }
}

#[test]
fn a_valid_declaration_parses() {
    let schema = parse_str(
        "decl.rs",
        &format!(
            "{ROOT}#[tenancy(tenant, unique(user_id, platform))]\n#[backfill(via = \"user_id -> users.default_org_id\")]\n\
             struct SocialPlatformConnection {{ #[key] id: i64, #[references(users)] user_id: Uuid, platform: String, r#type: Option<String> }}\n\
             #[tenancy(global)]\nstruct User {{ #[key] id: Uuid, #[references(organizations)] default_org_id: Option<Uuid> }}\n"
        ),
    )
    .unwrap();
    let table = schema.table("social_platform_connections").unwrap();
    assert_eq!(table.uniques, [vec!["user_id".to_owned(), "platform".to_owned()]]);
    assert_eq!(table.column("user_id").unwrap().references.as_ref().unwrap().column, "id", "resolved to the key");
    assert!(table.column("type").unwrap().nullable);
    assert_eq!(schema.settings.org_column, "org_id");
}

#[test]
fn the_workspace_declaration_is_valid() {
    let (schema, files) = crate::load_dir(&crate::workspace_declaration_dir()).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(schema.tables.len(), 28);
    assert_eq!(schema.tables.iter().filter(|t| t.is_tenant()).count(), 24);
}

#[test]
fn no_root() {
    check_err(
        "#[tenancy(global)]\nstruct Plan { #[key] id: i64 }\n",
        r#"
decl.rs:2:8: error: no root table: exactly one table must be #[tenancy(root)]
  hint: mark the organizations table: #[tenancy(root)] struct Organization { #[key] id: Uuid, ... }"#,
    );
}

#[test]
fn two_roots() {
    check_err(
        &format!("{ROOT}#[tenancy(root)]\nstruct Company {{ #[key] id: Uuid }}\n"),
        r#"
decl.rs:4:8: error: second root table `companies`
  hint: only one table is the organizations table; `organizations` is already root"#,
    );
}

#[test]
fn unknown_table_attribute() {
    check_err(
        &format!("{ROOT}#[tenancy(tenant, sharded)]\nstruct Lead {{ #[key] id: i64 }}\n"),
        r#"
decl.rs:3:19: error: unknown table attribute `sharded`
  hint: write `#[tenancy(root | tenant | global | shared(through = "link.column") | internal, table = "name", unique(col, ...))]`"#,
    );
}

const MEMBERS: &str = "#[tenancy(tenant)]\nstruct Membership { #[key] id: i64, #[references(users)] user_id: Uuid, #[references(plans)] plan_id: Option<i64> }\n#[tenancy(global)]\nstruct Plan { #[key] id: i64 }\n";

#[test]
fn shared_and_internal_tables_parse() {
    let schema = crate::parse_str(
        "decl.rs",
        &format!(
            "{ROOT}{MEMBERS}#[tenancy(shared(through = \"memberships.user_id\"))]\nstruct User {{ #[key] id: Uuid, email: String }}\n#[tenancy(internal)]\nstruct AdminUser {{ #[key] id: i64 }}\n"
        ),
    )
    .expect("valid");
    let users = schema.table("users").unwrap();
    assert_eq!(users.scope, crate::Scope::Shared);
    assert_eq!(users.link, Some(crate::Link { table: "memberships".to_owned(), column: "user_id".to_owned() }));
    assert_eq!(schema.table("admin_users").unwrap().scope, crate::Scope::Internal);
}

#[test]
fn a_shared_table_linked_through_a_column_that_does_not_point_at_it() {
    check_err(
        &format!(
            "{ROOT}{MEMBERS}#[tenancy(shared(through = \"memberships.plan_id\"))]\nstruct User {{ #[key] id: Uuid }}\n"
        ),
        r#"
decl.rs:4:94: error: link column `memberships.plan_id` does not reference the key of `users`
  hint: add #[references(users)] to `plan_id`"#,
    );
}

#[test]
fn a_shared_table_linked_through_a_global_table() {
    check_err(
        &format!("{ROOT}{MEMBERS}#[tenancy(shared(through = \"plans.id\"))]\nstruct User {{ #[key] id: Uuid }}\n"),
        r#"
decl.rs:8:8: error: shared table `users` is linked through global table `plans`
  hint: the link says which organization sees a row, so it is a tenant table"#,
    );
}

#[test]
fn a_shared_table_without_its_link() {
    check_err(
        &format!("{ROOT}#[tenancy(shared)]\nstruct User {{ #[key] id: Uuid }}\n"),
        r#"
decl.rs:3:11: error: shared needs the link: `shared(through = "link_table.column")`
  hint: write `#[tenancy(root | tenant | global | shared(through = "link.column") | internal, table = "name", unique(col, ...))]`"#,
    );
}

#[test]
fn unknown_column_attribute() {
    check_err(
        &format!("{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64, #[indexed] email: String }}\n"),
        r#"
decl.rs:4:31: error: unknown column attribute `indexed`
  hint: column attributes are #[key], #[unique], #[references(table)], #[references(table.column)], #[default("sql")]"#,
    );
}

#[test]
fn unknown_column_type() {
    check_err(
        &format!("{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64, score: Option<Decimal> }}\n"),
        r#"
decl.rs:4:38: error: unknown column type `Decimal` for `score`
  hint: supported types: Uuid, String, i16, i32, i64, f32, f64, bool, Json, Timestamp, Date, Bytes, each optionally wrapped in Option<...>"#,
    );
}

#[test]
fn duplicate_table() {
    check_err(
        &format!(
            "{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64 }}\n#[tenancy(tenant, table = \"leads\")]\nstruct Prospect {{ #[key] id: i64 }}\n"
        ),
        r#"
decl.rs:6:8: error: duplicate table `leads`
  hint: it is first declared at decl.rs:4:8"#,
    );
}

#[test]
fn duplicate_column() {
    check_err(
        &format!("{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64, email: String, email: String }}\n"),
        r#"
decl.rs:4:46: error: duplicate column `email` in `leads`
  hint: it is first declared at decl.rs:4:31"#,
    );
}

#[test]
fn reference_to_undeclared_table() {
    check_err(
        &format!(
            "{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64, #[references(campaigns)] campaign_id: i64 }}\n"
        ),
        r#"
decl.rs:4:56: error: `campaign_id` references undeclared table `campaigns`
  hint: declared tables: leads, organizations"#,
    );
}

#[test]
fn reference_to_undeclared_column() {
    check_err(
        &format!(
            "{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64, #[references(organizations.code)] org_code: Uuid }}\n"
        ),
        r#"
decl.rs:4:65: error: `org_code` references undeclared column `organizations.code`
  hint: `organizations` has columns: id, name"#,
    );
}

#[test]
fn unique_key_naming_an_unknown_column() {
    check_err(
        &format!("{ROOT}#[tenancy(tenant, unique(ean, region))]\nstruct Product {{ #[key] id: i64, ean: String }}\n"),
        r#"
decl.rs:3:26: error: unique key of `products` names unknown column `region`
  hint: `products` has columns: id, ean"#,
    );
}

#[test]
fn tenant_table_declaring_org_id() {
    check_err(
        &format!("{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64, org_id: Uuid }}\n"),
        r#"
decl.rs:4:31: error: tenant table `leads` declares `org_id` itself
  hint: tenant tables get the organization column, its key, FK, policy and trigger generated; remove this field"#,
    );
}

#[test]
fn identifier_over_63_bytes() {
    let long = "a".repeat(64);
    check_err(
        &format!("{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64, {long}: String }}\n"),
        &format!(
            "decl.rs:4:31: error: column name `{long}` is 64 bytes; PostgreSQL allows 63\n  \
             hint: PostgreSQL would silently truncate it; choose a shorter name (with table = \"...\" for tables)"
        ),
    );
}

#[test]
fn global_table_referencing_a_tenant_table() {
    check_err(
        &format!(
            "{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64 }}\n#[tenancy(global)]\nstruct Plan {{ #[key] id: i64, #[references(leads)] lead_id: i64 }}\n"
        ),
        r#"
decl.rs:6:52: error: global table `plans` references tenant table `leads`
  hint: shared rows cannot point at one organization's rows; make this table tenant, or move the reference to the tenant side"#,
    );
}

#[test]
fn cycle_of_required_references() {
    check_err(
        &format!(
            "{ROOT}#[tenancy(tenant)]\nstruct Call {{ #[key] id: i64, #[references(agents)] agent_id: i64 }}\n\
             #[tenancy(tenant)]\nstruct Agent {{ #[key] id: i64, #[references(calls)] last_call_id: i64 }}\n"
        ),
        r#"
decl.rs:6:53: error: cycle of required references: calls -> agents -> calls
  hint: no row could ever be inserted; make one of these references Option<...>"#,
    );
    // The same cycle with one optional edge is fine.
    parse_str(
        "decl.rs",
        &format!(
            "{ROOT}#[tenancy(tenant)]\nstruct Call {{ #[key] id: i64, #[references(agents)] agent_id: i64 }}\n\
             #[tenancy(tenant)]\nstruct Agent {{ #[key] id: i64, #[references(calls)] last_call_id: Option<i64> }}\n"
        ),
    )
    .unwrap();
}

#[test]
fn several_errors_are_reported_together() {
    let err =
        parse_str("decl.rs", &format!("{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64, a: Foo, b: Bar }}\n"))
            .unwrap_err();
    assert_eq!(err.0.len(), 2);
    assert!(err.to_string().ends_with("2 errors in the declaration; nothing was generated"));
}

#[test]
fn syntax_errors_carry_a_location() {
    check_err(
        "#[tenancy(root)]\nstruct Organization { #[key] id: Uuid,, }\n",
        r#"
decl.rs:2:39: error: expected identifier
  hint: a declaration is Rust syntax: structs with attributes"#,
    );
}
