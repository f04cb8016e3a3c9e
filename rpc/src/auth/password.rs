//! The dashboard password, stored as an argon2id hash in the state directory.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use super::{private_file, AuthError};

/// Shorter passwords are refused.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Where the hash lives under the state directory.
pub fn password_file_path(state_dir: &Path) -> PathBuf {
    state_dir.join("auth").join("password.phc")
}

/// Reads and writes the one password (used by the gateway and `archy passwd`).
#[derive(Debug, Clone)]
pub struct PasswordStore {
    path: PathBuf,
}

impl PasswordStore {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            path: password_file_path(state_dir),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a password was ever set (first run shows the setup page when not).
    pub fn is_set(&self) -> Result<bool, AuthError> {
        Ok(self.read_hash()?.is_some())
    }

    /// Hash and store `password`, replacing any previous one. Slow by design (argon2).
    pub fn set_password(&self, password: &str) -> Result<(), AuthError> {
        if password.chars().count() < MIN_PASSWORD_LEN {
            return Err(AuthError::PasswordTooShort {
                min: MIN_PASSWORD_LEN,
            });
        }
        let salt = SaltString::encode_b64(&private_file::random_bytes::<16>())
            .map_err(|error| AuthError::Hash(error.to_string()))?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|error| AuthError::Hash(error.to_string()))?;
        private_file::write(&self.path, &hash.to_string())
    }

    /// True when `password` matches the stored hash; false when it does not or none is set.
    pub fn verify(&self, password: &str) -> Result<bool, AuthError> {
        let Some(stored) = self.read_hash()? else {
            return Ok(false);
        };
        let hash = PasswordHash::new(stored.trim()).map_err(|_| AuthError::CorruptHash {
            path: self.path.clone(),
        })?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok())
    }

    fn read_hash(&self) -> Result<Option<String>, AuthError> {
        match std::fs::read_to_string(&self.path) {
            Ok(hash) => Ok(Some(hash)),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
            Err(source) => Err(AuthError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }
}
