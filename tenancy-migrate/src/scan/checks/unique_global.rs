//! `unique-global`: a unique key of a tenant table declared to hold across organizations
//! (`#[unique(global)]`, `unique_global(...)`: a login email, an invitation token). It is what
//! the declaration asks for, and an existence oracle all the same: an organization that tries a
//! value another organization holds is refused, and learns that it exists. Reported as info, so
//! the accepted risk is on the record with the index that carries it.

use crate::catalog::INDEXES;
use crate::scan::{Code, Context, On};
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "unique-global", severity: Severity::Info, category: "index" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for scoped in cx.scoped_tenant_tables() {
        let name = &scoped.table.name;
        let keys = scoped.table.global_unique_keys().into_iter().map(|c| c.join(", "));
        let expressions = scoped.table.unique_expressions.iter().filter(|e| e.global).map(|e| e.sql.clone());
        for shown in keys.chain(expressions) {
            let index = cx.catalog.indexes_of(name).find(|i| {
                let columns: Vec<&str> = i.columns.iter().map(String::as_str).collect();
                i.unique
                    && i.valid
                    && !i.partial
                    && (columns.join(", ") == shown
                        || crate::scan::global_expression(scoped.table, &i.columns).is_some_and(|e| e.sql == shown))
            });
            // A declared key the database lacks is drift, for the plan to add; nothing to say here.
            let Some(index) = index else { continue };
            out.push(CODE.finding(
                On::table(name).detail(&index.name),
                format!(
                    "{name} ({shown}) is unique across organizations, as declared: a tenant that tries a value another organization holds is refused, so it learns the value exists"
                ),
                "keep such values unguessable (random tokens) or not secret (a public handle); otherwise declare the key per organization with unique(...)",
                cx.catalog.evidence(&INDEXES, Some(name)),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::{declaration, fixture, scan_as, scan_as_with};
    use diesel::connection::SimpleConnection;
    use tenancy_schema::report::Severity;

    /// Declared global: one info, and `unique-without-org` stays quiet. Declared per
    /// organization: the same index is an error of `unique-without-org` instead.
    #[test]
    fn a_declared_global_key_is_info_and_an_undeclared_one_an_error() {
        let db = fixture("unique_global");
        let mut conn = db.admin();
        conn.batch_execute("CREATE UNIQUE INDEX contacts_email_global ON contacts (email)").unwrap();
        let on = |code: &str, report: &tenancy_schema::report::Report| {
            report.findings.iter().filter(|f| f.code == code && f.message.contains("email")).count()
        };
        let per_org = scan_as(&mut conn);
        assert_eq!((on("unique-without-org", &per_org), on("unique-global", &per_org)), (1, 0));
        let mut schema = declaration();
        let contacts = schema.tables.iter_mut().find(|t| t.name == "contacts").unwrap();
        contacts.global_uniques.push(vec!["email".to_owned()]);
        let global = scan_as_with(&mut conn, &schema);
        assert_eq!((on("unique-without-org", &global), on("unique-global", &global)), (0, 1));
        let info = global.findings.iter().find(|f| f.code == "unique-global").unwrap();
        assert_eq!(info.severity, Severity::Info);
        assert!(!info.evidence.sql.is_empty() && info.evidence.result.contains("contacts_email_global"));
    }
}
