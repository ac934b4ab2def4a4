//! What each statement renders, undoes and locks.

use super::*;

#[test]
fn undo_of_each_reversible_statement_names_the_same_object() {
    let policy = Ddl::CreatePolicy(Policy {
        name: "p".into(),
        table: "t".into(),
        permissive: true,
        command: "ALL",
        roles: vec![Grantee::Role("app".into())],
        using: Some("x".into()),
        with_check: None,
    });
    assert_eq!(policy.undo().unwrap().to_string(), r#"DROP POLICY IF EXISTS "p" ON "t";"#);
    assert_eq!(policy.to_string(), "CREATE POLICY \"p\" ON \"t\" AS PERMISSIVE FOR ALL TO \"app\"\n  USING (x);");
    assert_eq!(format!("{policy:#}"), "CREATE POLICY \"p\" ON \"t\" AS PERMISSIVE FOR ALL TO \"app\" USING (x);");
    let index = Ddl::CreateIndex {
        name: "i".into(),
        table: "t".into(),
        columns: vec!["a".into(), "b".into()],
        unique: true,
        concurrently: true,
        if_not_exists: true,
    };
    assert_eq!(index.to_string(), r#"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "i" ON "t" ("a", "b");"#);
    assert_eq!(index.lock(), lock::CONCURRENTLY);
    assert_eq!(index.undo().unwrap().to_string(), r#"DROP INDEX CONCURRENTLY IF EXISTS "i";"#);
    let grant = Ddl::Grant { privileges: vec![Privilege::Select], table: "t".into(), role: "r".into() };
    assert_eq!(grant.undo().unwrap().undo(), Some(grant));
}

#[test]
fn hostile_names_are_quoted_everywhere() {
    let drop = Ddl::DropConstraint { table: "a\"b".into(), name: "c'd".into(), if_exists: true, cascade: true };
    assert_eq!(drop.to_string(), r#"ALTER TABLE "a""b" DROP CONSTRAINT IF EXISTS "c'd" CASCADE;"#);
    let guarded = Ddl::Guarded {
        condition: Condition::Not(Box::new(Condition::ConstraintExists { table: "it's".into(), name: "n'".into() })),
        statement: Box::new(drop),
    };
    assert!(guarded.to_string().contains(r#"conrelid = '"it''s"'::regclass AND conname = 'n'''"#));
}
