//! The real `archy` binary against a real gateway served in-process over a
//! scripted backend.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use archy_rpc::*;
use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::sync::broadcast;

/// Apps and their states, and what each operation does to them:
/// - "demo-web" installs and starts fine;
/// - "broken" fails its install (like a pull with no registry);
/// - "needs-db" is blocked on start (its dependency is stopped);
/// - "ghost" does not exist.
pub struct ScriptedBackend {
    /// What `container.list` says of the engine.
    pub engine_reachable: AtomicBool,
    states: Mutex<BTreeMap<String, AppState>>,
    calls: Mutex<Vec<String>>,
    events: broadcast::Sender<Event>,
    journal: Mutex<Vec<Event>>,
}

impl ScriptedBackend {
    pub fn new(apps: &[(&str, AppState)]) -> Arc<Self> {
        Arc::new(Self {
            engine_reachable: AtomicBool::new(true),
            states: Mutex::new(apps.iter().map(|(id, s)| (id.to_string(), *s)).collect()),
            calls: Mutex::new(Vec::new()),
            events: broadcast::channel(64).0,
            journal: Mutex::new(Vec::new()),
        })
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    pub fn state(&self, app: &str) -> AppState {
        self.states.lock().unwrap()[app]
    }

    /// Journal a transition of `app` and push it to subscribers.
    pub fn transition(&self, app: &str, to: AppState, reason: &str) {
        let from = self.states.lock().unwrap().insert(app.to_string(), to);
        let mut journal = self.journal.lock().unwrap();
        let event = Event {
            seq: journal.len() as u64 + 1,
            at_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64,
            app: Some(app.to_string()),
            transition: Some(Transition {
                from: from.unwrap_or(AppState::Absent),
                to,
            }),
            reason: reason.to_string(),
        };
        journal.push(event.clone());
        let _ = self.events.send(event);
    }

    fn saw(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    fn known(&self, app: &str) -> Result<(), BackendError> {
        if self.states.lock().unwrap().contains_key(app) {
            Ok(())
        } else {
            Err(BackendError::new(
                ErrorKind::NotFound,
                format!("no app named {app}; see registry.list"),
            ))
        }
    }
}

#[async_trait]
impl Backend for ScriptedBackend {
    async fn list(&self) -> Result<ContainerList, BackendError> {
        self.saw("list".into());
        let apps = self
            .states
            .lock()
            .unwrap()
            .iter()
            .map(|(id, state)| AppStatus {
                id: id.clone(),
                name: id.to_uppercase(),
                state: *state,
                health: if *state == AppState::Running {
                    Health::Healthy
                } else {
                    Health::Unknown
                },
                ports: if id == "demo-web" {
                    vec![PortMapping {
                        host: 18080,
                        container: 8080,
                        protocol: "tcp".into(),
                    }]
                } else {
                    vec![]
                },
                companions: vec![],
                user_stopped: *state == AppState::Stopped,
                last_reason: (*state != AppState::Absent).then(|| "started by user".into()),
                restart_count: 1,
            })
            .collect();
        Ok(ContainerList {
            engine_reachable: self.engine_reachable.load(Ordering::Relaxed),
            apps,
        })
    }

    async fn health(&self, _: Option<&str>) -> Result<Vec<AppHealth>, BackendError> {
        Ok(vec![])
    }

    async fn submit(&self, operation: Operation) -> Result<Accepted, BackendError> {
        let app = operation.app().to_string();
        self.known(&app)?;
        self.saw(format!(
            "submit {}",
            serde_json::to_string(&operation).unwrap()
        ));
        match &operation {
            Operation::Install { .. } if app == "broken" => {
                self.transition(&app, AppState::Installing, "installing");
                self.transition(
                    &app,
                    AppState::Failed,
                    "pull failed: no registry answers for docker.io/broken",
                );
            }
            Operation::Install { .. } => {
                self.transition(&app, AppState::Installing, "install requested by user");
                self.transition(&app, AppState::Running, "verified running");
            }
            Operation::Start { .. } if self.state(&app) == AppState::Running => {}
            Operation::Start { .. } if app == "needs-db" => {
                self.transition(&app, AppState::Starting, "start requested by user");
                self.transition(
                    &app,
                    AppState::Blocked,
                    "dependency db is stopped; start it first",
                );
            }
            Operation::Start { .. } | Operation::Restart { .. } => {
                self.transition(&app, AppState::Restarting, "restart requested by user");
                self.transition(&app, AppState::Running, "verified running");
            }
            Operation::Stop { .. } => {
                self.transition(&app, AppState::Stopping, "stop requested by user");
                self.transition(&app, AppState::Stopped, "stopped by user");
            }
            Operation::Uninstall { .. } => {
                self.transition(&app, AppState::Uninstalling, "uninstall requested by user");
                self.transition(&app, AppState::Absent, "uninstalled");
            }
        }
        Ok(Accepted {
            op_id: "op-1".into(),
            app,
            op: operation.kind(),
        })
    }

    async fn logs(&self, app: &str, tail: usize) -> Result<Vec<String>, BackendError> {
        self.known(app)?;
        Ok((1..=tail).map(|n| format!("{app} line {n}")).collect())
    }

    async fn events(
        &self,
        app: Option<&str>,
        since: Option<u64>,
    ) -> Result<Vec<Event>, BackendError> {
        Ok(self
            .journal
            .lock()
            .unwrap()
            .iter()
            .filter(|e| app.is_none_or(|app| e.app.as_deref() == Some(app)))
            .filter(|e| since.is_none_or(|since| e.seq > since))
            .cloned()
            .collect())
    }

    async fn manifest(&self, app: &str) -> Result<Value, BackendError> {
        self.known(app)?;
        Ok(json!({ "id": app }))
    }

    async fn registry(&self) -> Result<Vec<CatalogEntry>, BackendError> {
        Ok(vec![])
    }

    async fn reload_registry(&self) -> Result<ReloadSummary, BackendError> {
        Ok(ReloadSummary::default())
    }

    async fn system_info(&self) -> Result<SystemInfo, BackendError> {
        Err(BackendError::new(ErrorKind::Internal, "not scripted"))
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

/// A gateway on a free loopback port, its state directory holding the token.
pub struct Daemon {
    pub backend: Arc<ScriptedBackend>,
    pub gateway: RunningGateway,
    pub state_dir: tempfile::TempDir,
}

impl Daemon {
    pub async fn start(apps: &[(&str, AppState)]) -> Self {
        let state_dir = tempfile::tempdir().unwrap();
        let mut config = GatewayConfig::new(state_dir.path());
        config.listen = "127.0.0.1:0".parse().unwrap();
        let backend = ScriptedBackend::new(apps);
        let gateway = Gateway::serve(config, backend.clone()).await.unwrap();
        Self {
            backend,
            gateway,
            state_dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.gateway.local_addr)
    }

    /// Run `archy --url <this> --state-dir <this> <args…>`.
    pub async fn archy(&self, args: &[&str]) -> Run {
        let url = self.url();
        let state_dir = self.state_dir.path().to_str().unwrap().to_string();
        let mut all = vec!["--url", &url, "--state-dir", &state_dir];
        all.extend_from_slice(args);
        archy(&all, None).await
    }
}

/// What one run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("{error}: not JSON: {:?}", self.stdout))
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Run the binary (with `stdin` piped in when given), with a deadline so a
/// hanging CLI fails the test instead of stalling it.
pub async fn archy(args: &[&str], stdin: Option<&str>) -> Run {
    use tokio::io::AsyncWriteExt;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_archy"));
    command
        .args(args)
        .env_remove("ARCHY_STATE_DIR")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.unwrap();
    }
    drop(input);
    let output: Output = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("archy {args:?} did not finish within 300 s"))
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// The workspace root (manifests live under it).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
