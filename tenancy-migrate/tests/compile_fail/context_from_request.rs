// An org context comes only from a verified claim, never from an id read off a request.
use tenancy_migrate::models::{OrgContext, OrgId};

fn main() {
    let from_request = "00000000-0000-4000-8000-000000000001";
    let id = OrgId::from_uuid(uuid::Uuid::parse_str(from_request).unwrap());
    let _context = OrgContext { org: id };
}
