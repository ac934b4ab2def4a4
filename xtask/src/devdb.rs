//! `cargo xtask dev-db`: the throwaway PostgreSQL under target/tenancy/dev-db.

use anyhow::{Context, Result};
use tenancy_migrate::cluster::Cluster;

/// The database `cargo xtask migrate` uses in the throwaway cluster.
pub const DEV_DATABASE: &str = "tenancy";

fn dir() -> std::path::PathBuf {
    crate::project_root().join("target/tenancy/dev-db")
}

pub fn start() -> Result<Cluster> {
    Ok(Cluster::ensure_running(&dir())?)
}

pub fn stop() -> Result<()> {
    match Cluster::existing(&dir()) {
        Some(cluster) => {
            cluster.stop()?;
            eprintln!("stopped the PostgreSQL in {}", dir().display());
        }
        None => eprintln!("no throwaway PostgreSQL in {}", dir().display()),
    }
    Ok(())
}

pub fn url() -> Result<String> {
    let cluster = Cluster::existing(&dir()).context("no throwaway PostgreSQL yet; run `cargo xtask dev-db start`")?;
    Ok(cluster.url(DEV_DATABASE))
}

pub fn ensure_database(cluster: &Cluster, name: &str) -> Result<()> {
    tenancy_migrate::db::create_database_if_missing(&cluster.url("postgres"), name)?;
    Ok(())
}
