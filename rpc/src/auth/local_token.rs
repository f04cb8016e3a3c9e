//! The local bearer token: whoever can read the 0600 file in the state
//! directory (the `archy` CLI as the daemon's user) may call without a password.

use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

use super::{private_file, AuthError};

/// Where the token lives under the state directory.
pub fn token_file_path(state_dir: &Path) -> PathBuf {
    state_dir.join("auth").join("local-token")
}

#[derive(Clone)]
pub(crate) struct LocalToken {
    value: String,
}

impl LocalToken {
    /// Write a fresh token at start, so a leaked old one stops working on restart.
    pub(crate) fn create(state_dir: &Path) -> Result<Self, AuthError> {
        let value = private_file::random_secret();
        private_file::write(&token_file_path(state_dir), &value)?;
        Ok(Self { value })
    }

    pub(crate) fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(&self.value, candidate)
    }
}

pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}
