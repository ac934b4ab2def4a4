//! The declaration the binary was built from (embedded by build.rs), or one read from disk.

use crate::error::Result;
use std::path::Path;
use tenancy_schema::Schema;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/declaration.rs"));
}

/// Loads the declaration at `path`, or the embedded one.
pub fn load(path: Option<&Path>) -> Result<Schema> {
    match path {
        Some(path) => Ok(tenancy_schema::load_dir(path)?.0),
        None => {
            let files: Vec<(String, String)> =
                embedded::FILES.iter().map(|(name, text)| ((*name).to_owned(), (*text).to_owned())).collect();
            tenancy_schema::parse_sources(&files).map_err(|d| tenancy_schema::LoadError::Invalid(d).into())
        }
    }
}
