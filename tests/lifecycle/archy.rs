//! The daemon under test and its command line: `archy serve` as a child
//! process, `archy <op> --wait` for every step.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long one `--wait` operation may take before the gate calls it hung.
const OP_DEADLINE: Duration = Duration::from_secs(120);
const BOOT_DEADLINE: Duration = Duration::from_secs(30);
const STOP_DEADLINE: Duration = Duration::from_secs(30);

pub struct Daemon {
    pub binary: PathBuf,
    pub state_dir: PathBuf,
    pub catalog: PathBuf,
    pub log: PathBuf,
    pub verify_window_secs: f64,
    url: String,
    port: u16,
    child: Option<Child>,
}

/// What one CLI call ended with.
pub struct CliOutcome {
    pub success: bool,
    pub code: Option<i32>,
    pub output: String,
}

impl Daemon {
    pub fn new(
        binary: PathBuf,
        state_dir: PathBuf,
        catalog: PathBuf,
        verify_window_secs: f64,
    ) -> Result<Self, String> {
        let port = free_port()?;
        Ok(Daemon {
            log: state_dir.with_extension("log"),
            binary,
            state_dir,
            catalog,
            verify_window_secs,
            url: format!("http://127.0.0.1:{port}"),
            port,
            child: None,
        })
    }

    /// Starts `archy serve` and waits until it answers `ps`.
    pub fn start(&mut self) -> Result<(), String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&self.binary)
            .arg("serve")
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--catalog")
            .arg(&self.catalog)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--dashboard")
            .arg(self.state_dir.join("no-dashboard"))
            .arg("--verify-window-secs")
            .arg(self.verify_window_secs.to_string())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + BOOT_DEADLINE;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!(
                    "archy serve exited at boot ({status}); see {}",
                    self.log.display()
                ));
            }
            if self.cli(&["ps"], Duration::from_secs(5)).success {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "archy serve did not answer within {BOOT_DEADLINE:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, as a service manager stops it; containers must keep running.
    pub fn stop(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .map_err(|e| format!("kill: {e}"))?;
        if !sent.success() {
            return Err(format!("kill -TERM {} failed", child.id()));
        }
        let deadline = Instant::now() + STOP_DEADLINE;
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(format!("archy serve exited with {status} on SIGTERM"))
                }
                Ok(None) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "archy serve ignored SIGTERM for {STOP_DEADLINE:?}; killed"
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// `archy <op> <app> --wait` (plus `extra` flags).
    pub fn op(&self, op: &str, app: &str, extra: &[&str]) -> CliOutcome {
        let mut args = vec![op, app, "--wait"];
        args.extend_from_slice(extra);
        self.cli(&args, OP_DEADLINE)
    }

    pub fn cli(&self, args: &[&str], deadline: Duration) -> CliOutcome {
        let child = Command::new(&self.binary)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--url")
            .arg(&self.url)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match child {
            Ok(child) => wait_with_deadline(child, deadline),
            Err(e) => CliOutcome {
                success: false,
                code: None,
                output: format!("cannot run archy: {e}"),
            },
        }
    }

    pub fn data_root(&self, app: &str) -> PathBuf {
        self.state_dir.join("data").join(app)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn wait_with_deadline(mut child: Child, deadline: Duration) -> CliOutcome {
    let end = Instant::now() + deadline;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() > end => {
                let _ = child.kill();
                let mut outcome = collect(child);
                outcome.success = false;
                outcome.output = format!("timed out after {deadline:?}; {}", outcome.output);
                return outcome;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                return CliOutcome {
                    success: false,
                    code: None,
                    output: e.to_string(),
                }
            }
        }
    }
    collect(child)
}

fn collect(child: Child) -> CliOutcome {
    match child.wait_with_output() {
        Ok(out) => CliOutcome {
            success: out.status.success(),
            code: out.status.code(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .trim()
            .to_string(),
        },
        Err(e) => CliOutcome {
            success: false,
            code: None,
            output: e.to_string(),
        },
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The daemon log's lines that say something went badly wrong.
pub fn alarming_log_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("panicked"))
        .map(str::to_string)
        .collect()
}

impl Daemon {
    /// One raw JSON-RPC call over `POST /rpc/v1` with the local token, the
    /// way a script on the box talks to the daemon.
    pub fn rpc(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        use std::io::{Read, Write};
        let token_path = self.state_dir.join("auth").join("local-token");
        let token = std::fs::read_to_string(&token_path)
            .map_err(|e| format!("{}: {e}", token_path.display()))?;
        let body =
            serde_json::json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1})
                .to_string();
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        write!(
            stream,
            "POST /rpc/v1 HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n{body}",
            token.trim(),
            body.len()
        )
        .map_err(|e| e.to_string())?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .map_err(|e| e.to_string())?;
        let response = String::from_utf8_lossy(&response);
        let (_, json) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("{method}: no HTTP body in {response:?}"))?;
        let reply: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("{method}: {e} in {json:?}"))?;
        match reply.get("error") {
            Some(error) => Err(format!("{method}: {error}")),
            None => Ok(reply["result"].clone()),
        }
    }
}
