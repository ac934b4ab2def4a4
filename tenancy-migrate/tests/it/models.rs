//! The generated Diesel models compile (this file uses them) and load/insert real rows as the
//! app role, including a join over the composite (org_id, agent_id) key.

use crate::support::{TestDb, exec};
use diesel::prelude::*;
use tenancy_migrate::models::{OrgContext, OrgId, VerifiedClaim, inserts, joins, rows, schema};

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
    let context = OrgContext::from_claim(&Verified(org.as_uuid()), &crate::support::models_key());
    context
        .transaction::<_, diesel::result::Error, _>(&mut app, |tx| {
            let agent = tx.insert_agent(inserts::NewAgent {
                id: None,
                user_id: user,
                configuration_id: None,
                name: "Ada".into(),
                phone_number: None,
                status: None,
                created_at: None,
            })?;
            assert_eq!(agent.org_id, org, "the organization comes from the context");
            assert_eq!(agent.status, "inactive", "the column default applies when the field is None");
            tx.insert_call(inserts::NewCall {
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
            })?;
            let joined: Vec<(rows::Call, rows::Agent)> = tx
                .calls()
                .inner_join(tx.agents().on(joins::calls_agent_id()))
                .select((rows::Call::as_select(), rows::Agent::as_select()))
                .load(tx.conn())?;
            assert_eq!(joined.len(), 1);
            assert_eq!(joined[0].0.duration_seconds, Some(42));
            assert_eq!(joined[0].1.name, "Ada");
            // Tenant columns are public for filters; the table comes from the transaction.
            let named: Vec<String> =
                tx.agents().filter(schema::agents::name.eq("Ada")).select(schema::agents::name).load(tx.conn())?;
            assert_eq!(named, ["Ada"]);
            let organizations: Vec<rows::Organization> =
                schema::organizations::table.select(rows::Organization::as_select()).load(tx.conn())?;
            assert_eq!(organizations.iter().map(|o| o.id).collect::<Vec<_>>(), [org]);
            Ok(())
        })
        .unwrap();

    // Another organization's context sees none of it.
    let other = OrgContext::from_claim(&Verified(uuid::Uuid::from_u128(7)), &crate::support::models_key());
    let seen: i64 = other
        .transaction::<_, diesel::result::Error, _>(&mut app, |tx| tx.agents().count().get_result(tx.conn()))
        .unwrap();
    assert_eq!(seen, 0);
}

/// What an application's authentication would produce.
struct Verified(uuid::Uuid);

impl VerifiedClaim for Verified {
    fn verified_org_id(&self) -> uuid::Uuid {
        self.0
    }
}
