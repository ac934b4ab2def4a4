//! `citus-placement`: on a Citus coordinator, a declared table that is not where the
//! declaration puts it — a tenant table that is not hash-distributed by the org column, or
//! not colocated with the other tenant tables (its composite foreign keys and joins then cross
//! shards), or an organizations, global, shared or internal table that is not a reference
//! table (distributed tables can only reference tables on every node). Citus itself refuses
//! what else would break isolation there (a unique key or foreign key without the distribution
//! column, a policy with a subquery), so placement is what is left to check.

use crate::scan::{Code, Context, On};
use tenancy_codegen::citus::{Placement, wanted};
use tenancy_codegen::sql::literal;
use tenancy_schema::report::{Finding, Severity};

pub const CODE: Code = Code { code: "citus-placement", severity: Severity::Error, category: "citus" };
pub const CODES: &[Code] = &[CODE];

pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(citus) = cx.citus else { return };
    let placed = |name: &str| citus.cluster.placed.iter().find(|(t, _)| t == name).map(|(_, p)| p);
    // The tenant tables' colocation group: the one most of them are in.
    let mut groups: Vec<i32> = cx
        .schema
        .tables
        .iter()
        .filter(|t| t.is_tenant())
        .filter_map(|t| match placed(&t.name) {
            Some(Placement::Distributed { colocation, .. }) => Some(*colocation),
            _ => None,
        })
        .collect();
    groups.sort_unstable();
    let group = groups.iter().max_by_key(|g| groups.iter().filter(|x| x == g).count()).copied();
    let anchor = cx.schema.tables.iter().find(|t| {
        t.is_tenant()
            && matches!(placed(&t.name), Some(Placement::Distributed { colocation, .. }) if Some(*colocation) == group)
    });
    for table in cx.schema.tables.iter().filter(|t| cx.catalog.table(&t.name).is_some()) {
        let name = table.name.as_str();
        let org = cx.org_column();
        let problem = match (wanted(cx.schema, table), placed(name)) {
            (Placement::Reference, Some(Placement::Reference)) => None,
            (Placement::Reference, found) => Some((
                format!("{} table {name} is {}, not a reference table", table.scope.name(), shown(found)),
                format!(
                    "SELECT create_reference_table({}) (after undistribute_table if it is distributed), or run tenancy-migrate apply",
                    literal(name)
                ),
            )),
            (Placement::Distributed { .. }, Some(Placement::Distributed { column, colocation })) => {
                if column != org {
                    Some((
                        format!(
                            "tenant table {name} is distributed by {column}, not by {org}: one organization's rows are spread over every shard and its queries go to all of them"
                        ),
                        format!(
                            "SELECT alter_distributed_table({}, distribution_column := {})",
                            literal(name),
                            literal(org)
                        ),
                    ))
                } else if Some(*colocation) != group {
                    let with = anchor.map_or(String::new(), |a| a.name.clone());
                    Some((
                        format!(
                            "tenant table {name} is in colocation group {colocation}, not with the other tenant tables (group {}): its foreign keys and joins to them cross shards",
                            group.unwrap_or_default()
                        ),
                        format!(
                            "SELECT alter_distributed_table({}, colocate_with := {})",
                            literal(name),
                            literal(&with)
                        ),
                    ))
                } else {
                    None
                }
            }
            (Placement::Distributed { .. }, found) => Some((
                format!("tenant table {name} is {}, not distributed by {org}", shown(found)),
                format!(
                    "run tenancy-migrate apply (it distributes every declared tenant table), or SELECT create_distributed_table({}, {})",
                    literal(name),
                    literal(org)
                ),
            )),
        };
        if let Some((message, remediation)) = problem {
            out.push(CODE.finding(On::table(name), message, remediation, citus.evidence.clone()));
        }
    }
}

fn shown(found: Option<&Placement>) -> String {
    match found {
        None => "a plain table on the coordinator".to_owned(),
        Some(Placement::Reference) => "a reference table".to_owned(),
        Some(Placement::Distributed { column, .. }) => format!("distributed by {column}"),
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::testing::DECLARATION;
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};

    /// On the real cluster: the fixture placed by apply scans clean; a declared global table
    /// made by hand on the coordinator (so left off the cluster) is one finding; made a
    /// reference table, none.
    #[test]
    fn a_table_left_off_the_cluster_is_found() {
        let (url, _) = crate::testing::citus_database("scan_citus_placement");
        let mut conn = PgConnection::establish(&url).unwrap();
        let with_regions = format!("{DECLARATION}#[tenancy(global)]\nstruct Region {{ #[key] id: i64 }}\n");
        let schema = tenancy_schema::parse_str("fixture.rs", &with_regions).unwrap();
        let mut without = schema.clone();
        without.tables.retain(|t| t.name != "regions");
        let migration = tenancy_codegen::plan::plan(None, &without, 1).unwrap().remove(0);
        conn.transaction(|c| c.batch_execute(&migration.up)).unwrap();
        crate::citus::distribute(&mut conn, &without, &mut |_| {}).unwrap();
        let found = |conn: &mut PgConnection| -> Vec<String> {
            let report = crate::scan::scan(conn, &schema, &Default::default()).unwrap();
            report.findings.iter().filter(|f| f.code == "citus-placement").map(|f| f.message.clone()).collect()
        };
        assert_eq!(found(&mut conn), Vec::<String>::new());
        conn.batch_execute("CREATE TABLE regions (id bigint PRIMARY KEY)").unwrap();
        let hits = found(&mut conn);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].contains("global table regions is a plain table on the coordinator"), "{hits:?}");
        conn.batch_execute("SELECT create_reference_table('regions')").unwrap();
        assert_eq!(found(&mut conn), Vec::<String>::new());
    }
}
