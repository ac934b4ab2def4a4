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
  hint: write `#[tenancy(root | tenant | global | shared(through = "link.column") | internal, table = "name", schema = "name", unique(col, ...), unique_global(col, ...), unique(expr = "lower(email)"))]`"#,
    );
}

#[test]
fn a_schema_name_with_a_comma() {
    check_err(
        &format!("{ROOT}#[tenancy(tenant, schema = \"a,b\")]\nstruct Lead {{ #[key] id: i64 }}\n"),
        r#"
decl.rs:4:8: error: schema name `a,b` contains a comma
  hint: tenancy lists a declaration's schemas separated by commas; rename the schema"#,
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
  hint: write `#[tenancy(root | tenant | global | shared(through = "link.column") | internal, table = "name", schema = "name", unique(col, ...), unique_global(col, ...), unique(expr = "lower(email)"))]`"#,
    );
}

#[test]
fn unknown_column_attribute() {
    check_err(
        &format!("{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64, #[indexed] email: String }}\n"),
        r#"
decl.rs:4:31: error: unknown column attribute `indexed`
  hint: column attributes are #[key], #[unique], #[unique(global)], #[references(table)], #[references(table.column)], #[default("sql")]"#,
    );
}

#[test]
fn unknown_column_type() {
    check_err(
        &format!("{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64, score: Option<Decimal> }}\n"),
        r#"
decl.rs:4:38: error: unknown column type `Decimal` for `score`
  hint: supported types: Uuid, String, Varchar, Varchar<N>, Char<N>, Citext, i16, i32, i64, f32, f64, Numeric, Numeric<P, S>, bool, Json, Jsonb, Timestamp, Timestamptz, Date, Time, Interval, Bytes, Inet, Cidr, Vec<T>, Enum<"name">, Sql<"any sql type">, each optionally wrapped in Option<...>"#,
    );
    check_err(
        &format!(
            "{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64, tags: Vec<Vec<String>>, code: Varchar<\"x\"> }}\n"
        ),
        r#"
decl.rs:4:37: error: unknown column type `Vec<Vec<String>>` for `tags`
  hint: supported types: Uuid, String, Varchar, Varchar<N>, Char<N>, Citext, i16, i32, i64, f32, f64, Numeric, Numeric<P, S>, bool, Json, Jsonb, Timestamp, Timestamptz, Date, Time, Interval, Bytes, Inet, Cidr, Vec<T>, Enum<"name">, Sql<"any sql type">, each optionally wrapped in Option<...>
decl.rs:4:61: error: unknown column type `Varchar<"x">` for `code`
  hint: supported types: Uuid, String, Varchar, Varchar<N>, Char<N>, Citext, i16, i32, i64, f32, f64, Numeric, Numeric<P, S>, bool, Json, Jsonb, Timestamp, Timestamptz, Date, Time, Interval, Bytes, Inet, Cidr, Vec<T>, Enum<"name">, Sql<"any sql type">, each optionally wrapped in Option<...>
2 errors in the declaration; nothing was generated"#,
    );
}

/// Every declared type reads back as the SQL type `format_type` prints, and writes back as the
/// same declaration (import relies on both directions).
#[test]
fn every_column_type_round_trips() {
    let cases = [
        ("Uuid", "uuid"),
        ("String", "text"),
        ("Varchar", "character varying"),
        ("Varchar<255>", "character varying(255)"),
        ("Char<2>", "character(2)"),
        ("Citext", "citext"),
        ("i16", "smallint"),
        ("i32", "integer"),
        ("i64", "bigint"),
        ("f32", "real"),
        ("f64", "double precision"),
        ("Numeric", "numeric"),
        ("Numeric<10, 2>", "numeric(10,2)"),
        ("bool", "boolean"),
        ("Json", "json"),
        ("Jsonb", "jsonb"),
        ("Timestamp", "timestamp without time zone"),
        ("Timestamptz", "timestamp with time zone"),
        ("Date", "date"),
        ("Time", "time without time zone"),
        ("Interval", "interval"),
        ("Bytes", "bytea"),
        ("Inet", "inet"),
        ("Cidr", "cidr"),
        ("Vec<String>", "text[]"),
        ("Vec<Varchar<20>>", "character varying(20)[]"),
        ("Enum<\"basejump.account_role\">", "basejump.account_role"),
        ("Sql<\"point\">", "point"),
    ];
    for (declared, sql) in cases {
        let schema = parse_str(
            "decl.rs",
            &format!("{ROOT}#[tenancy(tenant)]\nstruct Lead {{ #[key] id: i64, value: Option<{declared}> }}\n"),
        )
        .unwrap_or_else(|e| panic!("{declared}: {e}"));
        let ty = &schema.table("leads").unwrap().column("value").unwrap().ty;
        assert_eq!(ty.sql_name(), sql, "{declared}");
        assert_eq!(ty.rust_name(), declared);
        assert!(ty.matches_sql(sql), "{declared}");
        if !matches!(ty, crate::ColumnType::Enum(_) | crate::ColumnType::Sql(_)) {
            assert_eq!(crate::ColumnType::from_sql_name(sql).as_ref(), Some(ty), "{sql}");
        }
    }
    let role = crate::ColumnType::Enum("basejump.account_role".into());
    assert!(role.matches_sql("account_role"), "visible on the search path, format_type leaves the schema out");
    assert!(!role.matches_sql("text"));
}

#[test]
fn organization_keys_are_uuid_bigint_integer_or_text() {
    for (key, org) in
        [("Uuid", "00000000-0000-0000-0000-000000000001"), ("i64", "42"), ("i32", "7"), ("String", "acme")]
    {
        let schema = parse_str(
            "decl.rs",
            &format!(
                "#![tenancy(org_column = \"company_id\", default_org = \"{org}\")]\n#[tenancy(root)]\nstruct Company {{ #[key] id: {key} }}\n#[tenancy(tenant)]\nstruct Ad {{ #[key] id: i64 }}\n"
            ),
        )
        .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(schema.settings.org_key.rust_name(), key);
    }
    check_err(
        "#[tenancy(root)]\nstruct Company { #[key] id: Date }\n",
        r#"
decl.rs:2:25: error: the root table's key is date
  hint: organization keys are what claims carry and every org column holds: `#[key] id: Uuid` (the default), i64, i32 or String"#,
    );
    check_err(
        "#![tenancy(default_org = \"acme\")]\n#[tenancy(root)]\nstruct Company { #[key] id: i64 }\n",
        r#"
decl.rs:1:1: error: default_org `acme` is not a bigint
  hint: organization keys are bigint; write it as a value of the organizations key, e.g. "1""#,
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

#[test]
fn global_unique_keys_are_for_tenant_tables() {
    let schema = parse_str(
        "decl.rs",
        &format!("{ROOT}#[tenancy(tenant, unique_global(provider, external_id))]\nstruct Login {{ #[key] id: i64, #[unique(global)] email: String, provider: String, external_id: String }}\n"),
    )
    .unwrap();
    let login = schema.table("logins").unwrap();
    assert_eq!(login.global_unique_keys(), [vec!["email"], vec!["provider", "external_id"]]);
    assert!(login.is_global_unique(&["email"]) && !login.is_global_unique(&["provider"]));
    check_err(
        "#[tenancy(root)]\nstruct Organization { #[key] id: Uuid, #[unique(global)] slug: String }\n",
        r#"
decl.rs:2:58: error: global unique key on root table `organizations`
  hint: unique keys of tables without an org column already hold across organizations; write unique(...) or #[unique]"#,
    );
    check_err(
        &format!("{ROOT}#[tenancy(tenant)]\nstruct Login {{ #[key] id: i64, #[unique(everywhere)] email: String }}\n"),
        r#"
decl.rs:4:41: error: write #[unique] (per organization) or #[unique(global)]
  hint: column attributes are #[key], #[unique], #[unique(global)], #[references(table)], #[references(table.column)], #[default("sql")]"#,
    );
}

#[test]
fn expression_unique_keys() {
    let schema = parse_str(
        "decl.rs",
        &format!("{ROOT}#[tenancy(tenant, unique(expr = \"lower(email)\"), unique_global(expr = \"lower(handle)\"))]\nstruct Login {{ #[key] id: i64, email: String, handle: String }}\n"),
    )
    .unwrap();
    let keys = &schema.table("logins").unwrap().unique_expressions;
    assert_eq!(keys.len(), 2);
    assert!(!keys[0].global && keys[1].global);
    assert!(keys[0].matches("lower((email)::text)"), "as pg_get_indexdef prints it for a varchar");
    check_err(
        &format!(
            "{ROOT}#[tenancy(tenant, unique(email, expr = \"lower(email)\"))]\nstruct Login {{ #[key] id: i64, email: String }}\n"
        ),
        r#"
decl.rs:3:19: error: write an expression key alone: unique(expr = "lower(email)")
  hint: write `#[tenancy(root | tenant | global | shared(through = "link.column") | internal, table = "name", schema = "name", unique(col, ...), unique_global(col, ...), unique(expr = "lower(email)"))]`"#,
    );
}

#[test]
fn declared_enum_types() {
    let schema = parse_str(
        "decl.rs",
        &format!("{ROOT}#[tenancy(enum, name = \"app.mood\")]\nenum Mood {{ Calm, #[value(\"on hold\")] OnHold }}\n"),
    )
    .unwrap();
    assert_eq!(
        schema.enums,
        [crate::ir::EnumType { name: "app.mood".into(), labels: vec!["calm".into(), "on hold".into()] }]
    );
    check_err(
        &format!("{ROOT}enum Mood {{ Calm }}\n"),
        r#"
decl.rs:3:6: error: enum `Mood` has no #[tenancy(enum)]
  hint: declare an enum type as `#[tenancy(enum)] enum Mood { Calm, Busy }` (labels: snake_case, or #[value("...")])"#,
    );
}

#[test]
fn a_key_of_several_columns() {
    let schema = parse_str(
        "decl.rs",
        &format!(
            "{ROOT}#[tenancy(tenant)]\nstruct Project {{ #[key] id: i64, name: String }}\n\
             #[tenancy(tenant)]\nstruct ProjectMember {{ #[key] #[references(projects)] project_id: i64, #[key] user_id: i64, #[unique] badge: String }}\n\
             #[tenancy(tenant)]\nstruct Badge {{ #[key] id: i64, #[references(project_members.badge)] badge: String }}\n"
        ),
    )
    .unwrap();
    assert_eq!(schema.table("project_members").unwrap().key_names(), ["project_id", "user_id"]);
}

#[test]
fn a_reference_to_a_key_of_several_columns() {
    let members = "#[tenancy(tenant)]\nstruct ProjectMember { #[key] project_id: i64, #[key] user_id: i64 }\n";
    check_err(
        &format!(
            "{ROOT}{members}#[tenancy(tenant)]\nstruct Vote {{ #[key] id: i64, #[references(project_members)] member: i64 }}\n"
        ),
        "decl.rs:6:62: error: `member` references `project_members`, whose key has several columns (project_id, user_id)\n  \
         hint: a reference is one column: reference a #[unique] column, #[references(project_members.column)]",
    );
    check_err(
        &format!(
            "{ROOT}{members}#[tenancy(tenant)]\nstruct Vote {{ #[key] id: i64, #[references(project_members.user_id)] member: i64 }}\n"
        ),
        "decl.rs:6:70: error: `project_members.user_id` is one column of a key of several (project_id, user_id), not unique by itself\n  \
         hint: reference a #[unique] column of that table, or mark this one #[unique] if it is",
    );
}

#[test]
fn the_root_key_is_one_column() {
    check_err(
        "#[tenancy(root)]\nstruct Organization { #[key] id: Uuid, #[key] region: String }\n",
        "decl.rs:2:47: error: second #[key] column in root table `organizations`\n  \
         hint: the root table's key is one column (what every org column and claim points at); use #[tenancy(unique(a, b))] for other keys",
    );
}

#[test]
fn what_to_do_with_rows_of_a_missing_organization() {
    let schema = parse_str(
        "decl.rs",
        &format!(
            "#![tenancy(default_org = \"00000000-0000-4000-8000-000000000001\")]\n{ROOT}\
             #[tenancy(tenant)]\n#[backfill(default_org, missing_org = \"reassign\")]\nstruct Note {{ #[key] id: i64 }}\n\
             #[tenancy(tenant)]\n#[backfill(missing_org = \"delete\")]\nstruct Tag {{ #[key] id: i64 }}\n"
        ),
    )
    .unwrap();
    assert_eq!(schema.table("notes").unwrap().missing_org, Some(crate::MissingOrg::Reassign));
    assert_eq!(schema.table("tags").unwrap().missing_org, Some(crate::MissingOrg::Delete));
    assert_eq!(schema.table("tags").unwrap().backfill, None);
    check_err(
        &format!("{ROOT}#[tenancy(tenant)]\n#[backfill(missing_org = \"move\")]\nstruct Tag {{ #[key] id: i64 }}\n"),
        "decl.rs:4:26: error: missing_org = \"move\": write \"reassign\" (placed by the strategy) or \"delete\"\n  \
         hint: write #[backfill(default_org)], #[backfill(via = \"col -> table.org_column\")], #[backfill(from_parent = \"col\")] or #[backfill(sql = \"expr\")]",
    );
    check_err(
        &format!(
            "{ROOT}#[tenancy(tenant)]\n#[backfill(missing_org = \"reassign\")]\nstruct Tag {{ #[key] id: i64 }}\n"
        ),
        "decl.rs:5:8: error: missing_org = \"reassign\" on `tags`, which declares no strategy\n  \
         hint: reassign places those rows as the strategy says: #[backfill(default_org, missing_org = \"reassign\")]",
    );
}
