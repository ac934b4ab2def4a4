//! A throwaway PostgreSQL cluster under `target/`, for `cargo xtask migrate`, `dev-db` and tests.
//!
//! This is the only module below xtask that spawns processes (the PostgreSQL server binaries).
//! `initdb` refuses to run as root, so as root every server command runs as the `postgres` user
//! through `runuser`, and the cluster directory is handed to that user first.

use crate::error::{Error, Result};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The superuser password of every throwaway cluster. It only guards a server that listens on
/// 127.0.0.1 and lives under target/; it exists so authentication behaves as in production.
pub const SUPERUSER_PASSWORD: &str = "tenancy-dev";

/// A local cluster: `dir/data` holds the data, `dir/port` the port it listens on (127.0.0.1 only).
#[derive(Debug, Clone)]
pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
}

impl Cluster {
    /// Starts the cluster in `dir`, creating it first if needed; reuses one already running.
    /// Safe to call from several processes at once (they serialize on a lock file).
    pub fn ensure_running(dir: &Path) -> Result<Cluster> {
        Cluster::ensure_running_with(dir, &[])
    }

    /// Like [`Cluster::ensure_running`], the server started with these `-c name=value`
    /// settings too (values without spaces or quotes), e.g. `shared_preload_libraries=citus`.
    pub fn ensure_running_with(dir: &Path, settings: &[&str]) -> Result<Cluster> {
        let dir = &effective_dir(dir);
        std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
        let lock_path = dir.join(".lock");
        let lock = std::fs::File::create(&lock_path).map_err(|e| io_error("create", &lock_path, e))?;
        lock.lock().map_err(|e| io_error("lock", &lock_path, e))?;
        let bin = server_binaries()?;
        let as_root = running_as_root();
        let data = dir.join("data");
        if !data.join("PG_VERSION").exists() {
            if as_root {
                chown_to_postgres(dir)?;
            }
            // Password authentication even on 127.0.0.1, so a wrong password fails as in production.
            let pwfile = dir.join("password");
            std::fs::write(&pwfile, SUPERUSER_PASSWORD).map_err(|e| io_error("write", &pwfile, e))?;
            if as_root {
                chown_to_postgres(&pwfile)?;
            }
            let pwfile_arg = format!("--pwfile={}", pwfile.display());
            let data_arg = data.to_string_lossy();
            let args =
                ["-D", &data_arg, "-U", "postgres", "-A", "scram-sha-256", &pwfile_arg, "--no-sync", "-E", "UTF8"];
            run(&bin, as_root, "initdb", &[&args[..], &["--locale=C.UTF-8"]].concat())?;
        }
        let port = match std::fs::read_to_string(dir.join("port")).ok().and_then(|p| p.trim().parse().ok()) {
            Some(port) => port,
            None => {
                let port = free_port()?;
                std::fs::write(dir.join("port"), port.to_string())
                    .map_err(|e| io_error("write", &dir.join("port"), e))?;
                port
            }
        };
        let cluster = Cluster { dir: dir.to_path_buf(), port };
        if !cluster.is_running(&bin, as_root) {
            let mut options = format!(
                "-k {} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                dir.display()
            );
            for setting in settings {
                options.push_str(&format!(" -c {setting}"));
            }
            let log = dir.join("postgres.log");
            run(
                &bin,
                as_root,
                "pg_ctl",
                &["-D", &data.to_string_lossy(), "-l", &log.to_string_lossy(), "-w", "-o", &options, "start"],
            )
            .map_err(|err| Error::Cluster(format!("{err} (server log: {})", log.display())))?;
        }
        Ok(cluster)
    }

    /// The cluster in `dir` if it was ever started (it may be stopped).
    pub fn existing(dir: &Path) -> Option<Cluster> {
        let dir = &effective_dir(dir);
        let port = std::fs::read_to_string(dir.join("port")).ok()?.trim().parse().ok()?;
        Some(Cluster { dir: dir.to_path_buf(), port })
    }

    /// Stops the server ("fast" shutdown); the data stays for the next start.
    pub fn stop(&self) -> Result<()> {
        let bin = server_binaries()?;
        let as_root = running_as_root();
        if self.is_running(&bin, as_root) {
            run(
                &bin,
                as_root,
                "pg_ctl",
                &["-D", &self.dir.join("data").to_string_lossy(), "-m", "fast", "-w", "stop"],
            )?;
        }
        Ok(())
    }

    /// A superuser URL for `database`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{}/{database}", self.port)
    }

    fn is_running(&self, bin: &Path, as_root: bool) -> bool {
        command(bin, as_root, "pg_ctl")
            .args(["-D", &self.dir.join("data").to_string_lossy(), "status"])
            .output()
            .is_ok_and(|out| out.status.success())
    }
}

/// Where `initdb` and `pg_ctl` live: `pg_config --bindir`, else Debian's PostgreSQL 15 path.
pub fn server_binaries() -> Result<PathBuf> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let candidates = from_pg_config.into_iter().chain([PathBuf::from("/usr/lib/postgresql/15/bin")]);
    for dir in candidates {
        if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
            return Ok(dir);
        }
    }
    Err(Error::Cluster(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; install them (apt-get install postgresql-15) or set DATABASE_URL to an existing server".to_owned(),
    ))
}

fn command(bin: &Path, as_root: bool, program: &str) -> Command {
    let program = bin.join(program);
    if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(bin: &Path, as_root: bool, program: &str, args: &[&str]) -> Result<()> {
    let output = command(bin, as_root, program)
        .args(args)
        .output()
        .map_err(|e| Error::Cluster(format!("cannot run {program}: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(Error::Cluster(format!("{program} failed: {}", crate::error::first_line(&stderr))))
    }
}

/// Where the cluster for `dir` really lives. As root, the server runs as `postgres`, which must
/// reach the directory; when a parent is closed to it (a checkout under /root, mode 700), the
/// cluster moves to a per-checkout directory under the system temp dir instead.
fn effective_dir(dir: &Path) -> PathBuf {
    if !running_as_root() || reachable_by_postgres(dir) {
        return dir.to_path_buf();
    }
    let hash = dir
        .to_string_lossy()
        .bytes()
        .fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
    std::env::temp_dir().join(format!("tenancy-pg-{hash:016x}"))
}

/// Whether the `postgres` user can traverse every existing ancestor of `dir`.
fn reachable_by_postgres(dir: &Path) -> bool {
    let existing = dir.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/"));
    Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(existing)
        .status()
        .is_ok_and(|s| s.success())
}

/// `/proc/self` belongs to the process's effective user.
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn chown_to_postgres(dir: &Path) -> Result<()> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let ids = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres"))
            .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))?
    });
    let Some((uid, gid)) = ids else {
        return Err(Error::Cluster(
            "running as root but there is no `postgres` user to run initdb as; create one (useradd postgres) or run as a normal user".to_owned(),
        ));
    };
    std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(|e| io_error("chown", dir, e))
}

fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::Cluster(format!("no free port: {e}")))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| Error::Cluster(format!("no free port: {e}")))
}

fn io_error(doing: &str, path: &Path, err: std::io::Error) -> Error {
    Error::Cluster(format!("cannot {doing} {}: {err}", path.display()))
}
