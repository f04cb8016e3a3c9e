//! A Podman API service of the suite's own, on its own socket, over the
//! machine's container storage: the engine-outage scenario can kill it and
//! bring it back without touching the machine's shared service.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait::until;

const SOCKET_WAIT: Duration = Duration::from_secs(20);

pub struct EngineService {
    socket: PathBuf,
    process: Option<Child>,
}

impl EngineService {
    pub async fn start(socket: &Path) -> Result<Self, String> {
        let mut engine = EngineService {
            socket: socket.to_path_buf(),
            process: None,
        };
        engine.resume().await?;
        Ok(engine)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Start the service (again) and wait until its socket answers.
    pub async fn resume(&mut self) -> Result<(), String> {
        let _ = std::fs::remove_file(&self.socket);
        let process = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", self.socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start podman system service: {e}"))?;
        self.process = Some(process);
        until(SOCKET_WAIT, || async {
            self.answers()
                .then_some(())
                .ok_or_else(|| format!("{} does not answer", self.socket.display()))
        })
        .await
    }

    pub fn answers(&self) -> bool {
        Command::new("podman")
            .arg("--url")
            .arg(format!("unix://{}", self.socket.display()))
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Delete the socket file: the service keeps running, nobody can connect.
    pub fn remove_socket(&self) -> Result<(), String> {
        std::fs::remove_file(&self.socket)
            .map_err(|e| format!("cannot delete {}: {e}", self.socket.display()))
    }

    /// SIGKILL the service, as a crashed or upgraded engine.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

impl Drop for EngineService {
    fn drop(&mut self) {
        self.kill();
    }
}
