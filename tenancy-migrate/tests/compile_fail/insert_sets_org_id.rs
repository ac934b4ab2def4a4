// Inserts take the organization from the context: an insert struct has no field for it.
use tenancy_migrate::models::{OrgId, inserts};

fn main() {
    let _row = inserts::NewContact {
        org_id: OrgId::from_uuid(uuid::Uuid::nil()),
        id: None,
        user_id: uuid::Uuid::nil(),
        full_name: "Mallory".into(),
        email: None,
        phone_number: None,
        attributes: None,
        created_at: None,
    };
}
