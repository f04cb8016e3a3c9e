//! Who may call: a password-backed browser session (cookie + CSRF token), or
//! the local bearer token the CLI reads from the state directory.

mod http;
mod local_token;
mod password;
mod private_file;
mod rate_limit;
mod sessions;

use std::path::PathBuf;

pub(crate) use http::{require_auth, routes, Principal};
pub use local_token::token_file_path;
pub(crate) use local_token::LocalToken;
pub use password::{password_file_path, PasswordStore, MIN_PASSWORD_LEN};
pub(crate) use rate_limit::LoginLimiter;
pub(crate) use sessions::Sessions;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot write or read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the password must have at least {min} characters")]
    PasswordTooShort { min: usize },
    #[error("could not hash the password: {0}")]
    Hash(String),
    #[error("the password hash in {path} is unreadable; set a new one with `archy passwd`")]
    CorruptHash { path: PathBuf },
}
