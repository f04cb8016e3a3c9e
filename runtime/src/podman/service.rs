//! A Podman API service Archy owns, for machines where no socket answers.
//!
//! `podman system service --time=0 unix://<state_dir>/podman.sock`: without
//! `--time=0` the service exits after 5 s idle and removes its socket. The
//! child is killed and reaped on [`PodmanService::shutdown`], and killed on
//! drop (tokio reaps it in the background). Containers survive it: conmon,
//! not the service, supervises them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use thiserror::Error;
use tokio::process::{Child, Command};

use super::discovery::ping;

/// The socket file inside the state directory.
pub const SERVICE_SOCKET: &str = "podman.sock";
/// How long a fresh service gets to answer its first ping.
pub const SERVICE_READY_DEADLINE: Duration = Duration::from_secs(20);
/// The install command named when Podman is missing.
pub const INSTALL_HINT: &str = "sudo apt-get install podman runc";

#[derive(Debug, Error)]
pub enum ServiceError {
    #[error("{program} is not on PATH; install Podman with `{INSTALL_HINT}`")]
    PodmanMissing { program: String },

    #[error("cannot prepare {dir} for the engine socket: {source}")]
    StateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot start `{program} system service`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`podman system service` exited before answering on {socket}: {status}")]
    Exited {
        socket: PathBuf,
        status: std::process::ExitStatus,
    },

    #[error("`podman system service` did not answer on {socket} within {deadline:?}")]
    NotReady { socket: PathBuf, deadline: Duration },
}

/// A running `podman system service` child.
#[derive(Debug)]
pub struct PodmanService {
    child: Child,
    socket: PathBuf,
}

impl PodmanService {
    /// Start `podman` from PATH serving `<state_dir>/podman.sock`, and wait
    /// until it answers a ping.
    pub async fn start(state_dir: &Path) -> Result<Self, ServiceError> {
        Self::start_program("podman", state_dir, SERVICE_READY_DEADLINE).await
    }

    /// [`PodmanService::start`] with another program name and deadline.
    pub async fn start_program(
        program: &str,
        state_dir: &Path,
        ready_deadline: Duration,
    ) -> Result<Self, ServiceError> {
        let binary = find_on_path(program).ok_or_else(|| ServiceError::PodmanMissing {
            program: program.to_string(),
        })?;
        let socket = state_dir.join(SERVICE_SOCKET);
        prepare_state_dir(state_dir, &socket)?;

        let child = Command::new(&binary)
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| ServiceError::Spawn {
                program: program.to_string(),
                source,
            })?;
        let mut service = PodmanService { child, socket };
        service.wait_ready(ready_deadline).await?;
        tracing::info!(socket = %service.socket.display(), "started podman system service");
        Ok(service)
    }

    /// The socket the service answers on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Kill the service and reap it.
    pub async fn shutdown(mut self) {
        if let Err(e) = self.child.kill().await {
            tracing::warn!(error = %e, "stopping podman system service");
        }
    }

    async fn wait_ready(&mut self, deadline: Duration) -> Result<(), ServiceError> {
        let give_up = tokio::time::Instant::now() + deadline;
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        loop {
            poll.tick().await;
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(ServiceError::Exited {
                    socket: self.socket.clone(),
                    status,
                });
            }
            if ping(&self.socket, Duration::from_secs(1)).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= give_up {
                // Dropping `self` kills the child.
                return Err(ServiceError::NotReady {
                    socket: self.socket.clone(),
                    deadline,
                });
            }
        }
    }
}

/// Create the state dir (0700) and clear a stale socket nobody serves.
fn prepare_state_dir(dir: &Path, socket: &Path) -> Result<(), ServiceError> {
    use std::os::unix::fs::DirBuilderExt;
    let err = |source| ServiceError::StateDir {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err)?;
    match std::fs::remove_file(socket) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(err(e)),
        _ => Ok(()),
    }
}

/// The executable `program` resolves to on PATH.
fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_podman_names_the_install_command() {
        let dir = tempfile::tempdir().unwrap();
        let err = PodmanService::start_program(
            "archy-test-no-such-podman",
            dir.path(),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ServiceError::PodmanMissing { .. }));
        assert!(err.to_string().contains(INSTALL_HINT), "{err}");
    }

    #[tokio::test]
    async fn a_program_that_exits_at_once_is_reported_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        // `false` ignores its arguments and exits 1, like a broken podman.
        let err = PodmanService::start_program("false", dir.path(), Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Exited { .. }), "{err}");
    }

    #[test]
    fn sh_is_found_on_path_and_nonsense_is_not() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("archy-test-no-such-program").is_none());
    }
}
