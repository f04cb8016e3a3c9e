//! One live daemon on a temp state dir, the demo fleet it runs, and the
//! invariants every scenario must leave intact.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::engine::EngineService;
use crate::podman;
use crate::rpc::{counter_sum, Rpc};
use crate::state_fs::StateFs;
use crate::wait::until;

/// The fleet: two apps the user wants running (one with data), one the user stopped.
pub const RUNNING: &[&str] = &["demo-db", "demo-web"];
pub const STOPPED: &[&str] = &["demo-api"];
/// The app whose data dir carries the marker file.
pub const DATA_APP: &str = "demo-db";
const MARKER: &str = "db/chaos-marker";
/// The generated secret the lab's copy of demo-db declares and uses.
pub const DATA_APP_SECRET: &str = "db-password";
/// The daemon's reconcile and companion period in the lab: short, so a
/// recovery that waits for a pass does not dominate the run.
const RECONCILE_INTERVAL_SECS: &str = "5";
/// How the product words a failed operation it will retry by itself (the
/// engine was unreachable): not terminal, so not a violation.
const RETRYING: &str = "trying again in";

const DAEMON_ANSWERS_WITHIN: Duration = Duration::from_secs(30);
const SIGTERM_GRACE: Duration = Duration::from_secs(30);
/// First installs build the demo images.
const FLEET_READY_WITHIN: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Running,
    Stopped,
    Absent,
}

pub struct Paths {
    pub archy: PathBuf,
    pub catalog: PathBuf,
    pub dashboard: PathBuf,
}

pub struct Lab {
    /// Dropped last: the daemon and engine go first.
    _root: tempfile::TempDir,
    pub state_dir: PathBuf,
    /// The tmpfs under `state_dir`; unmounted after the containers are gone.
    state_fs: Option<StateFs>,
    paths: Paths,
    addr: SocketAddr,
    log: PathBuf,
    daemon: Option<Child>,
    rpc: Option<Rpc>,
    pub engine: EngineService,
    /// What each app must converge to.
    want: BTreeMap<&'static str, Want>,
    /// Apps seen stopped since they were last expected to stop: running
    /// again would be a resurrection.
    seen_stopped: Mutex<BTreeSet<&'static str>>,
    /// When a root child was last killed (the root's restart budget).
    pub last_root_kill: Option<Instant>,
    /// The data marker is written: from now on it must exist.
    marker_written: bool,
}

/// How an invariant check came out.
enum Check {
    Holds,
    /// Not there yet (an app still starting): look again.
    Pending(String),
    /// Broken for good: a stopped app ran, data vanished, a duplicate appeared.
    Violated(String),
}

impl Lab {
    pub async fn open(mut paths: Paths) -> Result<Self, String> {
        let log = std::env::temp_dir().join("archy-chaos-daemon.log");
        let _ = std::fs::remove_file(&log);
        let root = tempfile::Builder::new()
            .prefix("archy-chaos-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let engine = EngineService::start(&root.path().join("podman.sock")).await?;
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?;
        paths.catalog = private_catalog(&paths.catalog, root.path())?;
        let state_dir = root.path().join("state");
        let state_fs = StateFs::mount(&state_dir)?;
        let mut lab = Lab {
            state_dir,
            state_fs: Some(state_fs),
            // Outside the temp dir: it must outlive the run for a post-mortem.
            log,
            _root: root,
            paths,
            addr,
            daemon: None,
            rpc: None,
            engine,
            want: BTreeMap::new(),
            seen_stopped: Mutex::default(),
            marker_written: false,
            last_root_kill: None,
        };
        for app in RUNNING.iter().chain(STOPPED) {
            podman::remove_all(app)?;
        }
        lab.start_daemon().await?;
        Ok(lab)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Install the fleet, stop the stopped ones, write the data marker.
    pub async fn set_up_fleet(&mut self) -> Result<(), String> {
        for app in RUNNING.iter().chain(STOPPED) {
            self.call("package.install", json!({"id": app})).await?;
            self.expect(app, Want::Running);
        }
        self.converge(FLEET_READY_WITHIN).await?;
        for app in STOPPED {
            self.call("package.stop", json!({"id": app})).await?;
            self.expect(app, Want::Stopped);
        }
        std::fs::write(self.marker_path(), b"survives everything")
            .map_err(|e| format!("cannot write the data marker: {e}"))?;
        self.marker_written = true;
        self.converge(FLEET_READY_WITHIN).await.map(|_| ())
    }

    /// From now on, `app` must converge to `want`.
    pub fn expect(&mut self, app: &'static str, want: Want) {
        self.want.insert(app, want);
        self.seen_stopped().remove(app);
    }

    fn seen_stopped(&self) -> std::sync::MutexGuard<'_, BTreeSet<&'static str>> {
        self.seen_stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// After a failed scenario: daemon and engine up, the fleet as set up.
    pub async fn restore(&mut self) -> Result<(), String> {
        if !self.engine.answers() {
            self.engine.resume().await?;
        }
        if self.rpc.is_none() || self.daemon_exit().is_some() {
            self.sigkill_daemon();
            self.start_daemon().await?;
        }
        for app in RUNNING.iter().chain(STOPPED) {
            // Only where missing: installing starts a stopped app.
            let missing = self
                .status_of(app)
                .await
                .map_or(true, |s| s["state"] == "absent");
            if missing {
                self.call("package.install", json!({"id": app})).await?;
            }
        }
        for (app, method, want) in RUNNING
            .iter()
            .map(|app| (app, "package.start", Want::Running))
            .chain(
                STOPPED
                    .iter()
                    .map(|app| (app, "package.stop", Want::Stopped)),
            )
        {
            self.call(method, json!({"id": app})).await?;
            self.expect(app, want);
        }
        self.converge(FLEET_READY_WITHIN)
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot restore the fleet after a failure: {e}"))
    }

    fn marker_path(&self) -> PathBuf {
        self.state_dir.join("data").join(DATA_APP).join(MARKER)
    }

    /// Spawn `archy serve` and wait until it answers RPC with a fresh token.
    pub async fn start_daemon(&mut self) -> Result<(), String> {
        let token_path = self.state_dir.join("auth/local-token");
        let _ = std::fs::remove_file(&token_path);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("daemon log: {e}"))?;
        let stderr = log.try_clone().map_err(|e| format!("daemon log: {e}"))?;
        let child = Command::new(&self.paths.archy)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("serve")
            .arg("--catalog")
            .arg(&self.paths.catalog)
            .arg("--dashboard")
            .arg(&self.paths.dashboard)
            .arg("--engine")
            .arg(self.engine.socket())
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--debug-rpc")
            .arg("--reconcile-interval-secs")
            .arg(RECONCILE_INTERVAL_SECS)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.paths.archy.display()))?;
        // Shared with the polling closure, which must see an early exit.
        let child = Mutex::new(child);
        let addr = self.addr;
        let answered = until(DAEMON_ANSWERS_WITHIN, || async {
            if let Ok(Some(exit)) = child
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .try_wait()
            {
                return Ok(Err(format!("the daemon exited at start ({exit})")));
            }
            let token =
                std::fs::read_to_string(&token_path).map_err(|e| format!("no token yet: {e}"))?;
            let rpc = Rpc::new(addr, token.trim().to_string());
            rpc.call("container.list", json!({}))
                .await
                .map_err(|e| e.to_string())?;
            Ok(Ok(rpc))
        })
        .await;
        self.daemon = Some(child.into_inner().unwrap_or_else(PoisonError::into_inner));
        self.rpc = Some(answered??);
        // A new daemon process: the root's restart budget starts afresh.
        self.last_root_kill = None;
        Ok(())
    }

    fn daemon_exit(&mut self) -> Option<String> {
        let status = self.daemon.as_mut()?.try_wait().ok()??;
        Some(status.to_string())
    }

    /// `kill -9` the daemon: no shutdown, the pid file left behind.
    pub fn sigkill_daemon(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
        self.rpc = None;
    }

    /// SIGTERM and wait for the clean exit.
    pub async fn stop_daemon(&mut self) -> Result<(), String> {
        let Some(mut daemon) = self.daemon.take() else {
            return Ok(());
        };
        self.rpc = None;
        let pid = daemon.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map_err(|e| format!("kill -TERM {pid}: {e}"))?;
        let exited = until(SIGTERM_GRACE, || {
            let status = daemon.try_wait();
            async move {
                status
                    .ok()
                    .flatten()
                    .ok_or_else(|| "still running".to_string())
            }
        })
        .await;
        let status = exited.inspect_err(|_| {
            let _ = daemon.kill();
            let _ = daemon.wait();
        })?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the daemon exited with {status} on SIGTERM"))
        }
    }

    pub fn rpc(&self) -> Result<&Rpc, String> {
        self.rpc.as_ref().ok_or_else(|| "the daemon is down".into())
    }

    pub async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.rpc()?
            .call(method, params)
            .await
            .map_err(|e| e.to_string())
    }

    /// `app`'s entry in `container.list`.
    pub async fn status_of(&self, app: &str) -> Result<Value, String> {
        let list = self.call("container.list", json!({})).await?;
        list["apps"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["id"] == app)
            .cloned()
            .ok_or_else(|| format!("{app} is not in container.list"))
    }

    /// A counter summed over its series, from the daemon's `/metrics`.
    pub async fn counter(&self, name: &str) -> Result<f64, String> {
        let text = self.rpc()?.metrics().await.map_err(|e| e.to_string())?;
        Ok(counter_sum(&text, name))
    }

    /// The ids of the running apps' containers (adoption keeps them).
    pub fn running_container_ids(&self) -> Result<BTreeMap<String, Vec<String>>, String> {
        self.apps_wanting(Want::Running)
            .map(|app| {
                let ids = podman::containers(app)?.into_iter().map(|c| c.id).collect();
                Ok((app.to_string(), ids))
            })
            .collect()
    }

    pub fn apps_wanting(&self, want: Want) -> impl Iterator<Item = &'static str> + '_ {
        self.want
            .iter()
            .filter(move |(_, w)| **w == want)
            .map(|(app, _)| *app)
    }

    /// Wait until every invariant holds; fail at once when one is broken for
    /// good. Returns how long convergence took.
    pub async fn converge(&self, within: Duration) -> Result<Duration, String> {
        let started = Instant::now();
        let deadline = started + within;
        loop {
            match self.check().await {
                Check::Holds => return Ok(started.elapsed()),
                Check::Violated(reason) => return Err(format!("invariant broken: {reason}")),
                Check::Pending(reason) if Instant::now() >= deadline => {
                    return Err(format!("not converged within {within:?}: {reason}"))
                }
                Check::Pending(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    async fn check(&self) -> Check {
        // The engine's truth first: these break for good.
        for (app, want) in &self.want {
            let containers = match podman::containers(app) {
                Ok(containers) => containers,
                Err(e) => return Check::Pending(e),
            };
            let mut slots = BTreeMap::<&str, usize>::new();
            for c in &containers {
                *slots.entry(&c.slot).or_default() += 1;
            }
            if let Some((slot, n)) = slots.iter().find(|(_, n)| **n > 1) {
                return Check::Violated(format!("{app} has {n} containers for {slot}"));
            }
            let running = containers.iter().any(|c| c.running);
            if *want == Want::Stopped && running && self.seen_stopped().contains(app) {
                return Check::Violated(format!("{app} was stopped by the user but runs again"));
            }
        }
        if self.marker_written && !self.marker_path().exists() {
            return Check::Violated(format!("{} vanished", self.marker_path().display()));
        }
        if let Some(broken) = unparsable_json(&self.state_dir) {
            return Check::Violated(broken);
        }
        let list = match self.call("container.list", json!({})).await {
            Ok(list) => list,
            Err(e) => return Check::Pending(format!("RPC: {e}")),
        };
        let statuses = list["apps"].as_array().cloned().unwrap_or_default();
        let terminal = |s: &&Value| {
            s["state"] == "failed"
                && !s["last_reason"]
                    .as_str()
                    .is_some_and(|r| r.contains(RETRYING))
        };
        if let Some(failed) = statuses.iter().find(terminal) {
            return Check::Violated(format!(
                "{} failed: {}",
                failed["id"], failed["last_reason"]
            ));
        }
        for (app, want) in &self.want {
            let status = list["apps"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["id"] == *app);
            let state = status.and_then(|s| s["state"].as_str()).unwrap_or("absent");
            let user_stopped = status.is_some_and(|s| s["user_stopped"] == true);
            let reason = status.and_then(|s| s["last_reason"].as_str()).unwrap_or("");
            let containers = podman::containers(app).unwrap_or_default();
            let running_containers = containers.iter().filter(|c| c.running).count();
            let holds = match want {
                // Every container: the app's own and its companions.
                Want::Running => {
                    state == "running"
                        && running_containers > 0
                        && running_containers == containers.len()
                }
                Want::Stopped => {
                    let stopped = state == "stopped" && user_stopped && running_containers == 0;
                    if stopped {
                        self.seen_stopped().insert(app);
                    }
                    stopped
                }
                Want::Absent => state == "absent" && running_containers == 0,
            };
            if !holds {
                return Check::Pending(format!(
                    "{app}: want {want:?}, daemon says {state} ({reason}; user_stopped {user_stopped}), {running_containers} running container(s)"
                ));
            }
        }
        Check::Holds
    }
}

/// The fleet's manifests copied to `<root>/apps/demo`, their host ports moved
/// from 18xxx to 38xxx: the demo ports are shared with whoever else runs the
/// demo on this machine (a rootless user does not see the flock).
fn private_catalog(catalog: &Path, root: &Path) -> Result<PathBuf, String> {
    let private = root.join("apps/demo");
    std::fs::create_dir_all(&private).map_err(|e| format!("{}: {e}", private.display()))?;
    for app in RUNNING.iter().chain(STOPPED) {
        let copied = Command::new("cp")
            .arg("-r")
            .arg(catalog.join(app))
            .arg(&private)
            .status()
            .is_ok_and(|s| s.success());
        if !copied {
            return Err(format!("cannot copy {}", catalog.join(app).display()));
        }
        let manifest = private.join(app).join("manifest.yml");
        let text = std::fs::read_to_string(&manifest)
            .map_err(|e| format!("{}: {e}", manifest.display()))?;
        let mut text = text.replace("host: 18", "host: 38");
        if *app == DATA_APP {
            text = with_generated_secret(&text)?;
        }
        std::fs::write(&manifest, text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    }
    // Companion build contexts are named relative to the catalog.
    let companions = std::path::absolute(catalog.join("../../companions"))
        .map_err(|e| format!("companions: {e}"))?;
    std::os::unix::fs::symlink(companions, root.join("companions"))
        .map_err(|e| format!("companions link: {e}"))?;
    Ok(private)
}

/// The data app's manifest declaring a generated password its container
/// uses, as a real database's does (the delete-secret-file scenario).
fn with_generated_secret(manifest: &str) -> Result<String, String> {
    let secret = format!(
        "generated_secrets:\n  - {{ name: {DATA_APP_SECRET}, kind: password }}\n\
         container:\n  env:\n    DB_PASSWORD: ${{secret:{DATA_APP_SECRET}}}\n"
    );
    if !manifest.contains("\ncontainer:\n") || manifest.contains("generated_secrets") {
        return Err(format!(
            "{DATA_APP}'s manifest changed shape; update the lab's secret"
        ));
    }
    Ok(manifest.replacen("\ncontainer:\n", &format!("\n{secret}"), 1))
}

/// The first `*.json` under `dir` that does not parse: a state file written
/// half (invariant: writes are atomic, whatever the disk does).
pub fn unparsable_json(dir: &Path) -> Option<String> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries.flatten().find_map(|entry| {
        let path = entry.path();
        if path.is_dir() {
            // App data belongs to the apps, not to Archy.
            return (entry.file_name() != "data")
                .then(|| unparsable_json(&path))
                .flatten();
        }
        if path.extension()? != "json" {
            return None;
        }
        let text = std::fs::read(&path).ok()?;
        serde_json::from_slice::<Value>(&text)
            .err()
            .map(|e| format!("{} does not parse: {e}", path.display()))
    })
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.sigkill_daemon();
        for app in RUNNING.iter().chain(STOPPED) {
            if let Err(e) = podman::remove_all(app) {
                eprintln!("chaos: clean-up: {e}");
            }
        }
        // The containers bound directories on it: unmount only now.
        drop(self.state_fs.take());
    }
}
