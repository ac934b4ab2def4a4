// No conversion turns an organization id into an org context.
use tenancy_migrate::models::{OrgContext, OrgId};

fn main() {
    let id = OrgId::from_uuid(uuid::Uuid::nil());
    let _context: OrgContext = id.into();
}
