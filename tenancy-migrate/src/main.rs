//! `tenancy-migrate`: a thin shim over [`tenancy_migrate::cli`].

fn main() -> std::process::ExitCode {
    tenancy_migrate::cli::main(std::env::args_os())
}
