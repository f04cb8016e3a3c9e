//! Owner-only secret files, written atomically (temp file, fsync, rename).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use super::AuthError;

/// Replace `path` with `contents`, mode 0600, creating its directory (0700) if missing.
pub(crate) fn write(path: &Path, contents: &str) -> Result<(), AuthError> {
    let io_error = |source| AuthError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error)?;
    let temp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io_error)?;
    file.write_all(contents.as_bytes()).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    fs::rename(&temp, path).map_err(io_error)?;
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error)
}

/// A fresh 256-bit secret, hex encoded.
pub(crate) fn random_secret() -> String {
    hex::encode(random_bytes::<32>())
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes
}
