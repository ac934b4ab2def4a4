//! verify's sample rows satisfy what the database adds beyond the declaration: CHECK
//! constraints (a value of an existing row, else the constraint's first literal), so every
//! tenant table is attacked instead of skipped.

use crate::support::{TestDb, verify_failures};
use diesel::connection::SimpleConnection;
use tenancy_schema::report::Outcome;

#[test]
fn sample_rows_satisfy_check_constraints() {
    let schema = tenancy_schema::parse_str(
        "checks.rs",
        r#"#[tenancy(root)]
struct Organization { #[key] id: Uuid, name: String }
#[tenancy(tenant)]
struct Ticket { #[key] id: i64, status: String, title: String }
#[tenancy(tenant)]
struct Order { #[key] id: i64, code: String }
"#,
    )
    .unwrap();
    let db = TestDb::new("verify_samples_checks");
    let migration = tenancy_codegen::plan::plan(None, &schema, 1).unwrap().remove(0);
    db.admin().batch_execute(&migration.up).unwrap();
    // tickets is empty: its constraint's literal. orders has a row: its value (a tagged text is
    // longer than 4 characters, and no literal would pass).
    db.admin()
        .batch_execute(
            "ALTER TABLE tickets ADD CONSTRAINT tickets_status CHECK (status IN ('open', 'closed'));
             ALTER TABLE orders ADD CONSTRAINT orders_code CHECK (char_length(code) = 4);
             INSERT INTO organizations VALUES ('00000000-0000-4000-8000-00000000000a', 'a');
             INSERT INTO orders (org_id, id, code) VALUES ('00000000-0000-4000-8000-00000000000a', 1, 'AB12');",
        )
        .unwrap();
    let v = tenancy_migrate::verify::verify(&mut db.admin(), &schema).unwrap_or_else(|e| panic!("verify: {e}"));
    assert!(tenancy_migrate::verify::passed(&v), "{:#?}", verify_failures(&v));
    for table in ["tickets", "orders"] {
        let verified = v.tables.iter().find(|t| t.table == table).unwrap();
        assert_eq!(verified.skipped, None, "{table}");
        let read = verified.cells.iter().find(|c| c.attack == "insert_other_org").unwrap();
        assert_eq!(read.outcome, Outcome::Blocked, "{table}: {}", read.evidence.result);
    }
}
