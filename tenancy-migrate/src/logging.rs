//! Logging on stderr, never mixed into what a command writes on stdout (reports, SARIF, SQL).
//! `-v` shows each step, `-vv` also the SQL each step runs; `RUST_LOG` (e.g.
//! `RUST_LOG=tenancy_migrate=debug`) overrides both. URLs are logged with their password
//! redacted, and claim tokens and keys never.

/// Installs the subscriber once (later calls, e.g. from `cargo xtask`, keep the first).
pub fn init(verbosity: u8) {
    let default = match verbosity {
        0 => "warn",
        1 => "tenancy_migrate=info",
        _ => "tenancy_migrate=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
