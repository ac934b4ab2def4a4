//! `global-personal-data`: a global table that looks like people or organizations' own rows
//! rather than reference data — a column that references the organizations table, or columns
//! named like personal data (email, phone, names, addresses, birth dates, passwords). Every
//! organization reads every row of a global table: declare such a table `shared(through = ...)`
//! (visible to the organizations linked to each row), `tenant`, or `internal`.

use crate::catalog::COLUMNS;
use crate::scan::{Code, Context, On};
use tenancy_schema::Scope;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "global-personal-data", severity: Severity::Warn, category: "scope" };
pub const CODES: &[Code] = &[CODE];

/// Column names that hold personal data, as real schemas spell them.
const PERSONAL: &[&str] = &[
    "email",
    "e_mail",
    "email_address",
    "phone",
    "phone_number",
    "mobile",
    "full_name",
    "first_name",
    "last_name",
    "given_name",
    "family_name",
    "display_name",
    "address",
    "street",
    "street_address",
    "postal_code",
    "zip",
    "zip_code",
    "birth_date",
    "date_of_birth",
    "dob",
    "birthday",
    "ssn",
    "national_id",
    "tax_id",
    "passport",
    "password",
    "password_hash",
    "ip_address",
];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let root = cx.schema.root();
    for table in cx.schema.tables.iter().filter(|t| t.scope == Scope::Global) {
        if cx.catalog.table(&table.name).is_none() {
            continue;
        }
        let mut reasons = Vec::new();
        for column in &table.columns {
            if column.references.as_ref().is_some_and(|r| r.table == root.name) {
                reasons.push(format!("{} references {}", column.name, root.name));
            } else if PERSONAL.contains(&column.name.to_ascii_lowercase().as_str()) {
                reasons.push(format!("{} looks like personal data", column.name));
            }
        }
        if reasons.is_empty() {
            continue;
        }
        out.push(CODE.finding(
            On::table(&table.name),
            format!(
                "global table {} is read in full by every organization, yet {}: people or organizations' rows, not reference data",
                table.name,
                reasons.join(", ")
            ),
            format!(
                "declare it #[tenancy(shared(through = \"<link table>.<column>\"))] (each organization sees the rows linked to it), tenant, or internal (no access for the app) — or confirm it is public reference data with --ignore global-personal-data:{}",
                table.name
            ),
            cx.catalog.evidence(&COLUMNS, Some(&table.name)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::{declaration, fixture, scan_as_with};

    #[test]
    fn a_global_table_of_people_is_found() {
        let db = fixture("global_personal_data");
        let mut conn = db.admin();
        let mut schema = declaration();
        let clean = scan_as_with(&mut conn, &schema);
        assert!(clean.findings.iter().all(|f| f.code != "global-personal-data"));
        // The same database, with the shared users declared global (as the workspace once did).
        let users = schema.tables.iter_mut().find(|t| t.name == "users").unwrap();
        users.scope = tenancy_schema::Scope::Global;
        users.link = None;
        let broken = scan_as_with(&mut conn, &schema);
        let hits: Vec<_> = broken.findings.iter().filter(|f| f.code == "global-personal-data").collect();
        assert_eq!(hits.len(), 1, "{:?}", broken.findings.iter().map(|f| &f.cache_key).collect::<Vec<_>>());
        assert!(hits[0].message.contains("email looks like personal data"), "{}", hits[0].message);
        assert!(!hits[0].evidence.sql.is_empty());
    }
}
