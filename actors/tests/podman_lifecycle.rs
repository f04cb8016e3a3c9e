//! The app lifecycle against real Podman, through the same `Archy` handle
//! the daemon uses, on the demo catalog (`apps/demo`). Images are built from
//! the demo build contexts by the app actor (`FROM localhost/archy-base`,
//! made by `scripts/setup.sh`).
//!
//! Demo apps have fixed container names and host ports, so the tests take
//! one lock and run one at a time. A guard removes the apps' containers and
//! named volumes before and after each test, even when it fails. A test that
//! panics leaves its app actors registered by name (its runtime drops them
//! without cleanup), so the tests after it stop at once, pointing at the
//! first failure. When no engine answers, the tests fail, unless
//! `ARCHY_SKIP_ENGINE_TESTS=1`.
//!
//! Timings are printed (`-- --nocapture`) and recorded in
//! docs/performance.md.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use archy_actors::app::render::{container_name, named_volumes};
use archy_actors::app::{AppError, AppState};
use archy_actors::companions::container_name as companion_container_name;
use archy_actors::store::{BootKind, StateDir};
use archy_actors::tree::{Archy, Request, TreeConfig, TreeError};
use archy_apps::{Catalog, Manifest};
use archy_runtime::podman::PodmanRuntime;
use archy_runtime::{labels, ContainerDetails, RunState, SharedRuntime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, MutexGuard};

/// Demo apps share the engine, the `archy` network and fixed names.
static ENGINE_LOCK: Mutex<()> = Mutex::const_new(());

/// Set when a test panicked with its tree up.
static EARLIER_FAILURE: AtomicBool = AtomicBool::new(false);

/// Longest any single operation may take here (a first build included).
const OP_DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- harness

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps/demo")
}

/// The catalog as the tree's registry loads it, for names the tests check.
fn demo_catalog() -> Catalog {
    let dir = demo_dir();
    let load = Catalog::load_dir(&dir);
    assert!(
        load.errors.is_empty(),
        "the demo catalog at {} has errors: {:?}",
        dir.display(),
        load.errors
    );
    load.catalog
}

/// The engine, or `None` when the run opted out of engine tests.
async fn engine() -> Option<PodmanRuntime> {
    if std::env::var("ARCHY_SKIP_ENGINE_TESTS").as_deref() == Ok("1") {
        eprintln!("ARCHY_SKIP_ENGINE_TESTS=1: skipping a Podman lifecycle test");
        return None;
    }
    match PodmanRuntime::discover(None).await {
        Ok(runtime) => Some(runtime),
        Err(e) => panic!(
            "no container engine answered; run scripts/setup.sh --socket, \
             or set ARCHY_SKIP_ENGINE_TESTS=1 to skip ({e})"
        ),
    }
}

/// Every member's container name, in start order, then its companions'
/// (made on their own cadence, so one may appear after the test's last look).
fn container_names(manifest: &Manifest) -> Vec<String> {
    let members = manifest
        .members()
        .into_iter()
        .map(|m| container_name(manifest, m.name));
    let companions = manifest
        .companions
        .iter()
        .map(|c| companion_container_name(&manifest.id, &c.name));
    members.chain(companions).collect()
}

/// Removes an app's containers and named volumes (the `archy-` names Archy
/// gives them) when made, so a run killed earlier cannot leak into this
/// one, and when dropped, so this one leaks nothing even when it panics.
/// Synchronous (the podman CLI on the same socket), so it runs while a
/// failing test unwinds.
struct Leftovers {
    url: String,
    containers: Vec<String>,
    volumes: Vec<String>,
}

impl Leftovers {
    fn of(socket: &Path, manifests: &[&Manifest]) -> Self {
        let leftovers = Leftovers {
            url: format!("unix://{}", socket.display()),
            containers: manifests.iter().flat_map(|m| container_names(m)).collect(),
            volumes: manifests.iter().flat_map(|m| named_volumes(m)).collect(),
        };
        leftovers.remove();
        leftovers
    }

    /// One call per name: a missing one must not keep the others.
    fn remove(&self) {
        let containers = self.containers.iter().map(|name| ("container", name));
        let volumes = self.volumes.iter().map(|name| ("volume", name));
        for (kind, name) in containers.chain(volumes) {
            let _ = std::process::Command::new("podman")
                .args(["--url", &self.url, kind, "rm", "-f", name])
                .output();
        }
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        self.remove();
    }
}

/// One demo app under a booted tree, with its own state directory.
struct Demo {
    // Dropped in this order: the tree, the containers, the state
    // directory, and last the lock.
    archy: Option<Archy>,
    _leftovers: Leftovers,
    state: tempfile::TempDir,
    app: String,
    runtime: SharedRuntime,
    _lock: MutexGuard<'static, ()>,
}

impl Demo {
    /// `None` when engine tests are skipped.
    async fn boot(app: &str) -> Option<Demo> {
        Demo::boot_with(app, &[app]).await
    }

    /// `app` is the one `request` and `inspect` act on; leftovers of every
    /// app in `apps` are removed.
    async fn boot_with(app: &str, apps: &[&str]) -> Option<Demo> {
        let lock = ENGINE_LOCK.lock().await;
        assert!(
            !EARLIER_FAILURE.load(Ordering::SeqCst),
            "an earlier Podman lifecycle test failed and left its actors registered; see its failure"
        );
        let podman = engine().await?;
        let catalog = demo_catalog();
        let manifests: Vec<&Manifest> = apps
            .iter()
            .map(|app| {
                catalog
                    .get(app)
                    .unwrap_or_else(|| panic!("{app} is not in the demo catalog"))
            })
            .collect();
        let leftovers = Leftovers::of(podman.socket(), &manifests);
        let mut demo = Demo {
            app: app.to_string(),
            runtime: Arc::new(podman),
            state: tempfile::tempdir().unwrap(),
            archy: None,
            _leftovers: leftovers,
            _lock: lock,
        };
        demo.start_daemon().await;
        Some(demo)
    }

    async fn start_daemon(&mut self) -> Duration {
        let began = Instant::now();
        let mut config = TreeConfig::new(self.state.path());
        config.registry.dirs = vec![demo_dir()];
        let archy = Archy::boot(config, self.runtime.clone())
            .await
            .unwrap_or_else(|e| panic!("boot: {e}"));
        self.archy = Some(archy);
        began.elapsed()
    }

    fn archy(&self) -> &Archy {
        self.archy.as_ref().expect("the daemon is running")
    }

    /// Stop the tree (containers keep running) and boot it again; returns
    /// the time from boot to every app in `apps` being Running again.
    async fn restart_daemon(&mut self, apps: &[&str]) -> Duration {
        if let Some(archy) = self.archy.take() {
            archy.shutdown().await;
        }
        let began = Instant::now();
        self.start_daemon().await;
        assert_eq!(self.archy().boot_report().kind, BootKind::Clean);
        for app in apps {
            self.until(app, AppState::Running).await;
        }
        began.elapsed()
    }

    /// Run a lifecycle request to its end; returns how long it took.
    async fn request(&self, op: Request) -> Result<Duration, TreeError> {
        self.request_for(&self.app, op).await
    }

    async fn request_for(&self, app: &str, op: Request) -> Result<Duration, TreeError> {
        let began = Instant::now();
        tokio::time::timeout(OP_DEADLINE, self.archy().request(app, op, true))
            .await
            .unwrap_or_else(|_| panic!("{op:?} of {app} took over {OP_DEADLINE:?}"))?;
        Ok(began.elapsed())
    }

    async fn ok(&self, op: Request) -> Duration {
        self.ok_for(&self.app, op).await
    }

    async fn ok_for(&self, app: &str, op: Request) -> Duration {
        self.request_for(app, op)
            .await
            .unwrap_or_else(|e| panic!("{op:?} of {app}: {e}"))
    }

    fn state(&self) -> Option<AppState> {
        self.archy().board().get(&self.app).map(|s| s.state)
    }

    async fn until(&self, app: &str, want: AppState) {
        self.archy()
            .board()
            .wait_for(app, |s| s.is_some_and(|s| s.state == want), OP_DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The container of `member` (the app id for a single container).
    async fn inspect(&self, member: &str) -> Option<ContainerDetails> {
        self.inspect_named(&self.container(member)).await
    }

    async fn inspect_named(&self, name: &str) -> Option<ContainerDetails> {
        match self.runtime.inspect(name).await {
            Ok(details) => Some(details),
            Err(e) if e.is_not_found() => None,
            Err(e) => panic!("inspecting {name}: {e}"),
        }
    }

    fn container(&self, member: &str) -> String {
        let catalog = demo_catalog();
        container_name(catalog.get(&self.app).unwrap(), member)
    }

    /// (name, id, started at) of every container of `apps`.
    async fn containers(&self, apps: &[&str]) -> Vec<(String, String, Option<String>)> {
        let catalog = demo_catalog();
        let mut found = Vec::new();
        for app in apps {
            for name in container_names(catalog.get(app).unwrap()) {
                let details = self
                    .inspect_named(&name)
                    .await
                    .unwrap_or_else(|| panic!("{name} is missing"));
                found.push((name, details.id, details.started_at));
            }
        }
        found
    }

    fn data_root(&self) -> PathBuf {
        self.archy().env().data_root(&self.app)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if std::thread::panicking() && self.archy.is_some() {
            EARLIER_FAILURE.store(true, Ordering::SeqCst);
        }
    }
}

/// Podman timestamps (RFC 3339, fraction with trailing zeros trimmed) made
/// comparable as strings.
fn sortable(timestamp: &str) -> String {
    let (seconds, fraction) = timestamp
        .trim_end_matches('Z')
        .split_once('.')
        .unwrap_or((timestamp.trim_end_matches('Z'), ""));
    format!("{seconds}.{fraction:0<9}")
}

fn figure(what: &str, took: Duration) {
    println!("FIGURE {what}: {:.2} s", took.as_secs_f64());
}

// ---------------------------------------------------------------- ports

/// One plain HTTP/1.0 GET on 127.0.0.1; the whole answer.
async fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}

/// The published port answers `path` with a 200 containing `expect`. The
/// port has no readiness signal, so poll it with a deadline.
async fn serves(port: u16, path: &str, expect: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    while Instant::now() < deadline {
        match http_get(port, path).await {
            Ok(answer) if answer.contains(" 200 ") && answer.contains(expect) => return,
            Ok(answer) => last = answer,
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("127.0.0.1:{port}{path} did not serve {expect:?} within 10 s; last: {last}");
}

async fn refuses(port: u16) {
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "127.0.0.1:{port} still accepts connections"
    );
}

// ---------------------------------------------------------------- tests

const WEB_PORT: u16 = 18080;
const WEB_PAGE: &str = "demo-web is up";

#[tokio::test]
async fn demo_web_install_stop_start_restart_uninstall_reinstall_adopt_purge() {
    let Some(mut demo) = Demo::boot("demo-web").await else {
        return;
    };

    let took = demo.ok(Request::Install).await;
    figure("demo-web install (build if needed + 5 s verify)", took);
    assert_eq!(demo.state(), Some(AppState::Running));
    serves(WEB_PORT, "/index.html", WEB_PAGE).await;
    let first = demo.inspect("demo-web").await.expect("installed container");

    let took = demo.ok(Request::Stop).await;
    figure("demo-web stop", took);
    assert_eq!(demo.state(), Some(AppState::Stopped));
    let stopped = demo
        .inspect("demo-web")
        .await
        .expect("a stopped app keeps its container");
    assert_eq!(stopped.state, RunState::Exited);
    assert_eq!(
        stopped.exit_code,
        Some(0),
        "it stopped on SIGTERM, not SIGKILL"
    );
    refuses(WEB_PORT).await;

    let took = demo.ok(Request::Start).await;
    figure("demo-web start (incl. 5 s verify)", took);
    serves(WEB_PORT, "/index.html", WEB_PAGE).await;
    let started = demo.inspect("demo-web").await.unwrap();
    assert_eq!(started.id, first.id, "start reuses the container");
    assert!(started.state.is_running());

    let took = demo.ok(Request::Restart).await;
    figure("demo-web restart (incl. 5 s verify)", took);
    assert_eq!(demo.state(), Some(AppState::Running));
    serves(WEB_PORT, "/index.html", WEB_PAGE).await;
    let restarted = demo.inspect("demo-web").await.unwrap();
    assert_eq!(restarted.id, first.id);
    assert_ne!(
        restarted.started_at, started.started_at,
        "it really restarted"
    );

    let took = demo.ok(Request::Uninstall { purge: false }).await;
    figure("demo-web uninstall", took);
    assert_eq!(demo.state(), None, "an uninstalled app leaves the board");
    assert!(
        demo.inspect("demo-web").await.is_none(),
        "container removed"
    );
    refuses(WEB_PORT).await;

    let took = demo.ok(Request::Install).await;
    figure("demo-web install, image present (incl. 5 s verify)", took);
    serves(WEB_PORT, "/index.html", WEB_PAGE).await;
    let reinstalled = demo.inspect("demo-web").await.unwrap();

    let took = demo.restart_daemon(&["demo-web"]).await;
    figure("daemon restart -> demo-web adopted", took);
    let adopted = demo.inspect("demo-web").await.unwrap();
    assert_eq!(adopted.id, reinstalled.id, "same container");
    assert_eq!(adopted.started_at, reinstalled.started_at, "not restarted");
    serves(WEB_PORT, "/index.html", WEB_PAGE).await;

    demo.ok(Request::Uninstall { purge: true }).await;
    assert!(demo.inspect("demo-web").await.is_none());
    refuses(WEB_PORT).await;
}

const DB_PORT: u16 = 18432;

/// demo-db appends a line to `<data>/db/boots.log` each time it starts.
fn boots(demo: &Demo) -> usize {
    let log = demo.data_root().join("db/boots.log");
    std::fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("{}: {e}", log.display()))
        .lines()
        .count()
}

#[tokio::test]
async fn demo_db_data_survives_uninstall_reinstall_and_adoption_until_purged() {
    let Some(mut demo) = Demo::boot("demo-db").await else {
        return;
    };

    let took = demo.ok(Request::Install).await;
    figure("demo-db install (build if needed + 5 s verify)", took);
    serves(DB_PORT, "/ready.txt", "ready").await;
    assert_eq!(boots(&demo), 1);
    let ours = demo.data_root().join("db/kept-by-the-test");
    std::fs::write(&ours, "mine").unwrap();

    demo.ok(Request::Uninstall { purge: false }).await;
    assert!(demo.inspect("demo-db").await.is_none(), "container removed");
    assert_eq!(std::fs::read_to_string(&ours).unwrap(), "mine", "data kept");

    demo.ok(Request::Install).await;
    serves(DB_PORT, "/ready.txt", "ready").await;
    assert_eq!(boots(&demo), 2, "the reinstalled app found its old data");
    assert_eq!(std::fs::read_to_string(&ours).unwrap(), "mine");
    let before = demo.inspect("demo-db").await.unwrap();

    let took = demo.restart_daemon(&["demo-db"]).await;
    figure("daemon restart -> demo-db adopted", took);
    let after = demo.inspect("demo-db").await.unwrap();
    assert_eq!(after.id, before.id, "same container");
    assert_eq!(boots(&demo), 2, "adoption did not restart the database");

    demo.ok(Request::Uninstall { purge: true }).await;
    assert!(demo.inspect("demo-db").await.is_none());
    assert!(!demo.data_root().exists(), "purge deletes the data");
}

#[tokio::test]
async fn demo_stack_starts_db_first_and_its_app_reaches_the_db_by_alias() {
    let Some(demo) = Demo::boot("demo-stack").await else {
        return;
    };

    let took = demo.ok(Request::Install).await;
    figure(
        "demo-stack install (2 members, build if needed + 5 s verify)",
        took,
    );
    let db = demo.inspect("db").await.expect("db member");
    let app = demo.inspect("app").await.expect("app member");
    assert!(db.state.is_running() && app.state.is_running());
    let (db_start, app_start) = (db.started_at.unwrap(), app.started_at.unwrap());
    assert!(
        sortable(&db_start) < sortable(&app_start),
        "db started at {db_start}, app at {app_start}: the db must start first"
    );

    let fetch = [
        "wget",
        "-q",
        "-O",
        "-",
        "http://demo-stack-db:5432/ready.txt",
    ]
    .map(String::from);
    let answer = demo
        .runtime
        .exec(&demo.container("app"), &fetch)
        .await
        .expect("exec in the app member");
    assert_eq!(answer.exit_code, 0, "{}", answer.output);
    assert_eq!(answer.output.trim(), "ready");
    serves(18095, "/", "db=demo-stack-db").await;

    let took = demo.ok(Request::Stop).await;
    figure("demo-stack stop", took);
    let db = demo.inspect("db").await.unwrap();
    let app = demo.inspect("app").await.unwrap();
    let (db_end, app_end) = (db.finished_at.unwrap(), app.finished_at.unwrap());
    assert!(
        sortable(&app_end) <= sortable(&db_end),
        "app stopped at {app_end}, db at {db_end}: the app must stop first"
    );

    demo.ok(Request::Uninstall { purge: true }).await;
    assert!(demo.inspect("db").await.is_none() && demo.inspect("app").await.is_none());
}

#[tokio::test]
async fn demo_crash_install_fails_with_its_exit_code_and_logs_and_leaves_no_container() {
    let Some(demo) = Demo::boot("demo-crash").await else {
        return;
    };

    let began = Instant::now();
    let err = demo.request(Request::Install).await.unwrap_err();
    figure("demo-crash install until it failed", began.elapsed());
    let TreeError::App(AppError::Failed { reason, .. }) = &err else {
        panic!("expected the install to fail, got {err}");
    };
    assert!(reason.contains("exited with code 3"), "{reason}");
    assert!(
        reason.contains("demo-crash: exiting with 3 on purpose"),
        "the reason carries the log lines: {reason}"
    );
    assert!(matches!(demo.state(), Some(AppState::Failed { .. })));
    assert!(
        demo.inspect("demo-crash").await.is_none(),
        "the failed install removed its container"
    );
    demo.ok(Request::Uninstall { purge: true }).await;
}

#[tokio::test]
async fn demo_stubborn_stop_waits_its_3_s_grace_then_kills() {
    let Some(demo) = Demo::boot("demo-stubborn").await else {
        return;
    };
    let grace = Duration::from_secs(3);

    demo.ok(Request::Install).await;
    let took = demo.ok(Request::Stop).await;
    figure("demo-stubborn stop (grace 3 s)", took);
    assert!(took >= grace, "stopped after {took:?}, before its grace");
    assert!(
        took < grace + Duration::from_secs(2),
        "stopped after {took:?}: far past its grace"
    );
    let stopped = demo.inspect("demo-stubborn").await.unwrap();
    assert_eq!(stopped.exit_code, Some(137), "SIGKILL ended it");

    demo.ok(Request::Uninstall { purge: true }).await;
}

/// Every demo app but demo-crash, installed at once: demo-api waits for
/// demo-db to be healthy, then gets its generated token; a daemon restart
/// then adopts them all, recreating and restarting none.
#[tokio::test]
async fn daemon_restart_adopts_every_running_demo_app_untouched() {
    const APPS: [&str; 5] = [
        "demo-api",
        "demo-db",
        "demo-stack",
        "demo-stubborn",
        "demo-web",
    ];
    let Some(mut demo) = Demo::boot_with(APPS[0], &APPS).await else {
        return;
    };

    let began = Instant::now();
    let installs = APPS.iter().map(|app| demo.ok_for(app, Request::Install));
    futures::future::join_all(installs).await;
    figure(
        "5 demo apps installed at once (demo-api waits for demo-db healthy)",
        began.elapsed(),
    );
    let before = demo.containers(&APPS).await;
    let started = |app: &str| {
        let name = format!("archy-{app}");
        let (_, _, at) = before.iter().find(|(n, _, _)| *n == name).unwrap();
        sortable(at.as_deref().unwrap())
    };
    assert!(
        started("demo-db") < started("demo-api"),
        "demo-api must start after its database"
    );
    serves(18090, "/status.txt", "token=set").await;

    let took = demo.restart_daemon(&APPS).await;
    figure("daemon restart -> all 5 demo apps adopted", took);
    assert_eq!(
        demo.containers(&APPS).await,
        before,
        "the same containers, not restarted"
    );
    serves(WEB_PORT, "/index.html", WEB_PAGE).await;

    let purges = APPS
        .iter()
        .map(|app| demo.ok_for(app, Request::Uninstall { purge: true }));
    futures::future::join_all(purges).await;
    for (name, _, _) in &before {
        assert!(demo.inspect_named(name).await.is_none(), "{name} removed");
    }
}

#[tokio::test]
async fn two_daemons_on_one_engine_leave_each_others_containers_alone() {
    let Some(demo) = Demo::boot_with("demo-web", &["demo-web", "demo-db"]).await else {
        return;
    };
    // A second daemon: its own state dir, the same engine.
    let other_state = tempfile::tempdir().unwrap();
    let mut config = TreeConfig::new(other_state.path());
    config.registry.dirs = vec![demo_dir()];
    let other = Archy::boot(config, demo.runtime.clone())
        .await
        .unwrap_or_else(|e| panic!("boot of the second daemon: {e}"));
    demo.ok(Request::Install).await;
    tokio::time::timeout(
        OP_DEADLINE,
        other.request("demo-db", Request::Install, true),
    )
    .await
    .expect("the second daemon installs demo-db in time")
    .unwrap_or_else(|e| panic!("install of demo-db by the second daemon: {e}"));
    let before = demo.containers(&["demo-web", "demo-db"]).await;

    for _ in 0..3 {
        for archy in [demo.archy(), &other] {
            let pass = archy.reconcile().await.unwrap().unwrap();
            assert!(pass.orphans_removed.is_empty(), "{pass:?}");
            assert!(pass.duplicates_removed.is_empty(), "{pass:?}");
        }
    }

    assert_eq!(
        demo.containers(&["demo-web", "demo-db"]).await,
        before,
        "both containers untouched"
    );
    assert!(demo.archy().board().get("demo-db").is_none());
    assert!(other.board().get("demo-web").is_none());
    let instance_of = |dir: &Path| StateDir::open(dir).unwrap().instance().unwrap();
    let label = |details: ContainerDetails| details.labels.get(labels::INSTANCE).cloned();
    assert_eq!(
        demo.inspect_named("archy-demo-web").await.and_then(label),
        Some(instance_of(demo.state.path()).to_string())
    );
    assert_eq!(
        demo.inspect_named("archy-demo-db").await.and_then(label),
        Some(instance_of(other_state.path()).to_string())
    );
    other.shutdown().await;
}
