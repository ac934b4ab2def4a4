//! The generated Diesel models compile (this file uses them) and load/insert real rows as the
//! app role, including a join over the composite (org_id, agent_id) key.

use crate::support::{TestDb, exec};
use diesel::prelude::*;
use tenancy_migrate::models::{OrgId, inserts, joins, rows, schema};

#[test]
fn insert_and_load_through_the_generated_models() {
    let db = TestDb::migrated("models_roundtrip");
    let org = OrgId::from_uuid(uuid::Uuid::parse_str("00000000-0000-4000-8000-0000000000aa").unwrap());
    let user = uuid::Uuid::parse_str("00000000-0000-4000-8000-0000000000bb").unwrap();
    let mut admin = db.admin();
    diesel::insert_into(schema::organizations::table)
        .values(inserts::NewOrganization {
            id: Some(org),
            name: "Acme".into(),
            slug: "acme".into(),
            settings: None,
            is_active: None,
            plan_id: None,
            created_at: None,
        })
        .execute(&mut admin)
        .unwrap();
    exec(&mut admin, &format!("INSERT INTO users (id, email) VALUES ('{user}', 'x@example.com')")).unwrap();

    let mut app = db.app();
    app.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::sql_query("SELECT set_config('app.org_id', $1, true)")
            .bind::<diesel::sql_types::Text, _>(org.to_string())
            .execute(conn)?;
        let agent: rows::Agent = diesel::insert_into(schema::agents::table)
            .values(inserts::NewAgent {
                org_id: org,
                id: None,
                user_id: user,
                configuration_id: None,
                name: "Ada".into(),
                phone_number: None,
                status: None,
                created_at: None,
            })
            .returning(rows::Agent::as_returning())
            .get_result(conn)?;
        assert_eq!(agent.org_id, org);
        assert_eq!(agent.status, "inactive", "the column default applies when the field is None");
        diesel::insert_into(schema::calls::table)
            .values(inserts::NewCall {
                org_id: org,
                id: None,
                agent_id: agent.id,
                lead_id: None,
                direction: "out".into(),
                from_number: None,
                to_number: None,
                status: None,
                duration_seconds: Some(42),
                started_at: None,
                ended_at: None,
            })
            .execute(conn)?;
        let joined: Vec<(rows::Call, rows::Agent)> = schema::calls::table
            .inner_join(schema::agents::table.on(joins::calls_agent_id()))
            .select((rows::Call::as_select(), rows::Agent::as_select()))
            .load(conn)?;
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].0.duration_seconds, Some(42));
        assert_eq!(joined[0].1.name, "Ada");
        let organizations: Vec<rows::Organization> =
            schema::organizations::table.select(rows::Organization::as_select()).load(conn)?;
        assert_eq!(organizations.iter().map(|o| o.id).collect::<Vec<_>>(), [org]);
        Ok(())
    })
    .unwrap();
}
