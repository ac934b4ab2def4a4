//! What `plan` checks against the live database before it writes anything: every backfill's
//! statement is planned by PostgreSQL (EXPLAIN, after the columns the plan adds, rolled back),
//! so a strategy naming a column that does not exist is refused with every such table at once;
//! and what it keeps as found: a legacy foreign key's delete action.

use crate::support::TestDb;
use diesel::connection::SimpleConnection;
use tenancy_migrate::convert;

const LEGACY: &str = "
CREATE TABLE organizations (id uuid PRIMARY KEY, slug text UNIQUE NOT NULL);
INSERT INTO organizations VALUES ('00000000-0000-4000-8000-00000000000a', 'a');
CREATE TABLE users (id bigint PRIMARY KEY, home text NOT NULL);
CREATE TABLE tags (id bigint PRIMARY KEY, team text NOT NULL);
CREATE TABLE notes (id bigint PRIMARY KEY, author_id bigint NOT NULL, body text NOT NULL,
    tag_id bigint REFERENCES tags (id));
INSERT INTO users VALUES (1, 'a');
INSERT INTO tags VALUES (1, 'a');
INSERT INTO notes VALUES (1, 1, 'n', 1);
";

fn declaration(notes: &str, tags: &str) -> tenancy_schema::Schema {
    let text = format!(
        r#"#[tenancy(root)]
struct Organization {{ #[key] id: Uuid, #[unique] slug: String }}
#[tenancy(global)]
struct User {{ #[key] id: i64, home: String }}
#[tenancy(tenant)]
#[backfill({notes})]
struct Note {{ #[key] id: i64, author_id: i64, body: String, #[references(tags)] tag_id: Option<i64> }}
#[tenancy(tenant)]
#[backfill({tags})]
struct Tag {{ #[key] id: i64, team: String }}
"#
    );
    tenancy_schema::parse_str("plan_checks.rs", &text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_backfill_that_cannot_run_is_refused_at_plan_time_with_every_table() {
    let db = TestDb::new("plan_checks_backfill");
    db.admin().batch_execute(LEGACY).unwrap();
    let options = convert::Options::default();
    // Both strategies name columns the database does not have: `users.org_slug`, `t.team_slug`.
    let broken = declaration(
        r#"sql = "(SELECT o.id FROM organizations o JOIN users u ON o.slug = u.org_slug WHERE u.id = t.author_id)""#,
        r#"sql = "(SELECT o.id FROM organizations o WHERE o.slug = t.team_slug)""#,
    );
    let err = convert::plan_database(&mut db.admin(), &broken, "public", &options).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("2 backfills cannot run on this database"), "{err}");
    assert!(err.contains("notes (") && err.contains("column u.org_slug does not exist"), "{err}");
    assert!(err.contains("tags (") && err.contains("column t.team_slug does not exist"), "{err}");
    // Nothing stayed: the org columns the check added for a moment are gone.
    let org_columns: i64 = {
        use diesel::prelude::*;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM information_schema.columns WHERE column_name = 'org_id')",
        ))
        .get_result(&mut db.admin())
        .unwrap()
    };
    assert_eq!(org_columns, 0);
    // The strategies as they should be: planned, applied, every row placed.
    let fixed = declaration(
        r#"sql = "(SELECT o.id FROM organizations o JOIN users u ON o.slug = u.home WHERE u.id = t.author_id)""#,
        r#"sql = "(SELECT o.id FROM organizations o WHERE o.slug = t.team)""#,
    );
    let plan = convert::plan_database(&mut db.admin(), &fixed, "public", &options).unwrap_or_else(|e| panic!("{e}"));
    let dir = crate::support::plan_dir("plan_checks_backfill");
    convert::write(&plan, &options, &dir).unwrap();
    convert::run::apply_dir(&mut db.admin(), &dir, convert::run::RunOptions::default(), &mut |_| {})
        .unwrap_or_else(|e| panic!("apply: {e}"));
    // notes.tag_id kept NO ACTION (deleting a tag with notes is refused, as before), now
    // composite through the org column; the plan said so.
    assert!(
        plan.notes
            .iter()
            .any(|n| n == "notes.tag_id: ON DELETE NO ACTION kept as the legacy key notes_tag_id_fkey had it"),
        "{:#?}",
        plan.notes
    );
    let definition: String = {
        use diesel::prelude::*;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
            "(SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'notes'::regclass AND contype = 'f' AND conname = 'notes_tag_id_fkey')",
        ))
        .get_result(&mut db.admin())
        .unwrap()
    };
    assert_eq!(definition, "FOREIGN KEY (org_id, tag_id) REFERENCES tags(org_id, id)");
}

/// A note of organization a that points at a tag of organization b: the composite foreign key's
/// `VALIDATE` fails, and apply names the row; fixed, the rerun finishes.
#[test]
fn a_failing_validate_names_the_rows_that_break_it() {
    let db = TestDb::new("plan_checks_validate");
    db.admin()
        .batch_execute(&format!(
            "{LEGACY}
             INSERT INTO organizations VALUES ('00000000-0000-4000-8000-00000000000b', 'b');
             INSERT INTO tags VALUES (2, 'b');
             INSERT INTO notes VALUES (2, 1, 'crosses organizations', 2), (3, 1, 'fine', 1);"
        ))
        .unwrap();
    let schema = declaration(
        r#"sql = "(SELECT o.id FROM organizations o JOIN users u ON o.slug = u.home WHERE u.id = t.author_id)""#,
        r#"sql = "(SELECT o.id FROM organizations o WHERE o.slug = t.team)""#,
    );
    let options = convert::Options::default();
    let plan = convert::plan_database(&mut db.admin(), &schema, "public", &options).unwrap_or_else(|e| panic!("{e}"));
    let dir = crate::support::plan_dir("plan_checks_validate");
    convert::write(&plan, &options, &dir).unwrap();
    let run =
        |db: &TestDb| convert::run::apply_dir(&mut db.admin(), &dir, convert::run::RunOptions::default(), &mut |_| {});
    let err = run(&db).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("notes_tag_id_fkey") && err.contains("1 rows break it: 2 ("), "{err}");
    db.admin().batch_execute("UPDATE notes SET tag_id = 1 WHERE id = 2").unwrap();
    run(&db).unwrap_or_else(|e| panic!("after the fix: {e}"));
}

/// The backfill check adds the planned columns for a moment: on a table busy with a long
/// transaction it waits no longer than the plan's `lock_timeout`, then says so, changing nothing.
#[test]
fn the_backfill_check_waits_no_longer_than_the_lock_timeout() {
    let db = TestDb::new("plan_checks_busy");
    db.admin().batch_execute(LEGACY).unwrap();
    let schema = declaration(
        r#"sql = "(SELECT o.id FROM organizations o JOIN users u ON o.slug = u.home WHERE u.id = t.author_id)""#,
        r#"sql = "(SELECT o.id FROM organizations o WHERE o.slug = t.team)""#,
    );
    let mut reader = db.admin();
    reader.batch_execute("BEGIN; LOCK TABLE notes IN ACCESS SHARE MODE;").unwrap();
    let options = convert::Options { lock_timeout: "50ms".to_owned(), ..convert::Options::default() };
    let started = std::time::Instant::now();
    let err = convert::plan_database(&mut db.admin(), &schema, "public", &options).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("a table is busy"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    reader.batch_execute("COMMIT").unwrap();
    convert::plan_database(&mut db.admin(), &schema, "public", &options).unwrap_or_else(|e| panic!("{e}"));
}
