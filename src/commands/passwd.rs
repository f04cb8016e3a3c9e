//! `archy passwd`: set the dashboard password in the state directory. The
//! daemon reads the hash at every login, so it takes effect at once.

use std::io::{self, BufRead, IsTerminal};

use archy_rpc::PasswordStore;

use super::Exit;
use crate::cli::GlobalArgs;

#[derive(Debug, thiserror::Error)]
enum PasswdError {
    #[error("cannot read the password: {0}")]
    Read(#[source] io::Error),
    #[error("no password on standard input")]
    Empty,
    #[error("the two passwords differ; nothing changed")]
    Mismatch,
}

pub fn run(global: &GlobalArgs) -> Exit {
    let password = match read_password() {
        Ok(password) => password,
        Err(error) => {
            eprintln!("archy: {error}");
            return Exit::Failed;
        }
    };
    let store = PasswordStore::new(&global.state_dir());
    match store.set_password(&password) {
        Ok(()) => {
            println!("password set in {}", store.path().display());
            Exit::Ok
        }
        Err(error) => {
            eprintln!("archy: {error} (run as the daemon's user or root, with its --state-dir)");
            Exit::Failed
        }
    }
}

/// Twice without echo from a terminal; one line from a pipe (for scripts).
fn read_password() -> Result<String, PasswdError> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(PasswdError::Read)?;
        let password = line.trim_end_matches(['\r', '\n']).to_string();
        return if password.is_empty() {
            Err(PasswdError::Empty)
        } else {
            Ok(password)
        };
    }
    let first = rpassword::prompt_password("New password: ").map_err(PasswdError::Read)?;
    let second = rpassword::prompt_password("Again: ").map_err(PasswdError::Read)?;
    if first == second {
        Ok(first)
    } else {
        Err(PasswdError::Mismatch)
    }
}
