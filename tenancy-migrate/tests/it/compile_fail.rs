//! What the org-scoped API must not let compile (trybuild): loading a tenant table without an
//! org context, setting org_id on an insert by hand, making a context from a request's id.

#[test]
fn misuse_of_the_org_scoped_api_does_not_compile() {
    trybuild::TestCases::new().compile_fail(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compile_fail/*.rs"));
}
