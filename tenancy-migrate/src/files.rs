//! Writing files so that a failed run never leaves half of one: through a temporary name next
//! to the destination, then a rename.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

fn temporary(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn io_error<'a>(doing: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> Error + 'a {
    move |err| Error::File { doing, path: path.display().to_string(), reason: err.to_string() }
}

/// Writes one file (a report, a declaration).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = temporary(path);
    std::fs::write(&temporary, bytes).map_err(io_error("write", path))?;
    std::fs::rename(&temporary, path).map_err(|err| {
        let _ = std::fs::remove_file(&temporary);
        io_error("write", path)(err)
    })
}

/// Writes a directory of subdirectories of files (a plan); `dir` must be missing or empty.
pub fn write_dir_atomically(dir: &Path, subdirs: &[(String, Vec<(&str, String)>)]) -> Result<()> {
    let temporary = temporary(dir);
    let _ = std::fs::remove_dir_all(&temporary);
    std::fs::create_dir_all(&temporary).map_err(io_error("create", dir))?;
    for (name, files) in subdirs {
        let subdir = temporary.join(name);
        std::fs::create_dir_all(&subdir).map_err(io_error("create", dir))?;
        for (file, text) in files {
            std::fs::write(subdir.join(file), text).map_err(io_error("write", dir))?;
        }
    }
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(io_error("replace", dir))?;
    }
    std::fs::rename(&temporary, dir).map_err(|err| {
        let _ = std::fs::remove_dir_all(&temporary);
        io_error("write", dir)(err)
    })
}
