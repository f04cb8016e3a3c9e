//! The Health actor end to end: real app actors on the mock engine, exec
//! probes answered by the mock under paused time, http/tcp probes against
//! real loopback listeners (on real time: paused time would jump the clock
//! while a socket waits).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use archy_actors::app::{ask, AppActor, AppArgs, AppConfig, AppEnv, AppMsg, AppState};
use archy_actors::health::{
    HealthActor, HealthArgs, HealthMsg, ManifestLookup, ProbeOutcome, ProbeTarget, Prober,
};
use archy_actors::status::{AppStatus, Health, StatusBoard, Transition};
use archy_actors::store::{RestartPolicy, RestartTracker, StateDir};
use archy_apps::Manifest;
use archy_runtime::mock::{MockRuntime, Op};
use archy_runtime::ExecOutput;
use ractor::{Actor, ActorRef};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// Long enough for anything on paused time; a hang fails the test.
const DEADLINE: Duration = Duration::from_secs(3600);

struct Harness {
    mock: MockRuntime,
    env: AppEnv,
    board: StatusBoard,
    _dir: TempDir,
}

impl Harness {
    fn new() -> Self {
        Self::with(AppConfig::default(), RestartPolicy::default())
    }

    fn with(config: AppConfig, policy: RestartPolicy) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path().join("state")).unwrap();
        let mock = MockRuntime::new();
        let board = StatusBoard::new();
        let mut env = AppEnv::open(&state, Arc::new(mock.clone()), board.clone(), config).unwrap();
        let tracker = RestartTracker::open(dir.path().join("restarts.json"), policy).unwrap();
        env.tracker = Arc::new(Mutex::new(tracker));
        Harness {
            mock,
            env,
            board,
            _dir: dir,
        }
    }

    /// Spawn the app's actor and install the app.
    async fn installed(&self, manifest: &Manifest) -> ActorRef<AppMsg> {
        self.mock.add_image("docker.io/library/probe:1");
        let args = AppArgs::new(Arc::new(manifest.clone()), self.env.clone());
        let actor = AppActor::spawn(args).await.unwrap().0;
        ask(&actor, &manifest.id, |reply| AppMsg::Install { reply })
            .await
            .unwrap();
        actor
    }

    /// The Health actor for these apps, unnamed so tests in this binary
    /// do not collide.
    async fn health(&self, apps: &[&Manifest]) -> ActorRef<HealthMsg> {
        let apps: Vec<Arc<Manifest>> = apps.iter().map(|m| Arc::new((*m).clone())).collect();
        let lookup = Arc::new(move |id: &str| apps.iter().find(|m| m.id == id).cloned());
        // A catalog that never changes.
        self.health_following(lookup, tokio::sync::watch::channel(0).1)
            .await
    }

    /// The Health actor with this manifest lookup, told of its changes.
    async fn health_following(
        &self,
        manifests: ManifestLookup,
        catalog_changed: tokio::sync::watch::Receiver<u64>,
    ) -> ActorRef<HealthMsg> {
        let args = HealthArgs {
            runtime: Arc::new(self.mock.clone()),
            board: self.board.clone(),
            manifests,
            catalog_changed,
        };
        Actor::spawn(None, HealthActor, args).await.unwrap().0
    }

    async fn until(&self, app: &str, ready: impl Fn(&AppStatus) -> bool) -> AppStatus {
        self.board
            .wait_for(app, |s| s.is_some_and(&ready), DEADLINE)
            .await
            .unwrap()
            .unwrap()
    }

    /// Start probing `app` and wait until its actor decides to restart it
    /// for being unhealthy; returns that transition and the time it took.
    async fn until_restarting(&self, app: &Manifest) -> (Transition, Duration) {
        let mut transitions = self.board.subscribe();
        self.health(&[app]).await;
        let t0 = Instant::now();
        let decided = next_transition(&mut transitions, &app.id, |t| {
            t.to == "restarting" && t.reason.contains("; restart ")
        })
        .await;
        (decided, t0.elapsed())
    }

    fn state(&self, app: &str) -> AppState {
        self.board.get(app).unwrap().state
    }

    fn exec_answers(&self, app: &str, exit_code: i64, output: &str) {
        let output = ExecOutput {
            exit_code,
            output: output.into(),
        };
        self.mock.set_exec_output(&format!("archy-{app}"), output);
    }
}

/// The next transition of `app` that `wanted` accepts.
async fn next_transition(
    transitions: &mut tokio::sync::broadcast::Receiver<Transition>,
    app: &str,
    wanted: impl Fn(&Transition) -> bool,
) -> Transition {
    let next = async {
        loop {
            let t = transitions.recv().await.unwrap();
            if t.app == app && wanted(&t) {
                return t;
            }
        }
    };
    tokio::time::timeout(DEADLINE, next).await.unwrap()
}

fn manifest(yaml: &str) -> Manifest {
    Manifest::from_yaml_str(yaml, Path::new("/catalog/test/manifest.yml")).unwrap()
}

/// A single-container app with an exec probe every second.
fn exec_app(app: &str, tier: &str, retries: u32, start_period: u64, timeout: u64) -> Manifest {
    manifest(&format!(
        "id: {app}\nname: {app}\nversion: \"1\"\ntier: {tier}\ncontainer:\n  \
         image: docker.io/library/probe:1\n  health:\n    exec: {{cmd: [check, ready]}}\n    \
         interval_secs: 1\n    timeout_secs: {timeout}\n    retries: {retries}\n    \
         start_period_secs: {start_period}\n"
    ))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[tokio::test(start_paused = true)]
async fn test_health_monitor_hysteresis() {
    let h = Harness::new();
    let app = exec_app("hyst", "app", 3, 0, 5);
    h.installed(&app).await;
    let mut transitions = h.board.subscribe();
    h.health(&[&app]).await;
    let t0 = Instant::now();

    // Two failures, then a success: the count starts over, no bounce.
    h.exec_answers("hyst", 1, "");
    tokio::time::sleep(secs(2) + Duration::from_millis(500)).await;
    assert_eq!(h.mock.calls(Op::Exec), 2);
    h.exec_answers("hyst", 0, "");
    tokio::time::sleep(secs(1)).await;
    h.exec_answers("hyst", 1, "");
    tokio::time::sleep(secs(2)).await;
    assert_eq!(h.state("hyst"), AppState::Running);
    assert_eq!(h.mock.calls(Op::Start), 1);

    // The third failure in a row makes it unhealthy.
    let status = next_transition(&mut transitions, "hyst", |t| t.to == "restarting").await;
    assert_eq!(t0.elapsed(), secs(6));
    assert!(
        status.reason.contains("(3 failures in a row)"),
        "{}",
        status.reason
    );
}

#[tokio::test(start_paused = true)]
async fn test_health_monitor_start_period() {
    let h = Harness::new();
    let app = exec_app("grace", "app", 1, 10, 5);
    h.installed(&app).await;
    h.exec_answers("grace", 1, "");
    let (_, took) = h.until_restarting(&app).await;
    // Probes at 1..9 s failed inside the start period; the one at 10 s counts.
    assert_eq!(took, secs(10));
    assert_eq!(h.mock.calls(Op::Exec), 10);
}

#[tokio::test(start_paused = true)]
async fn test_health_monitor_exec_exit_code() {
    let h = Harness::new();
    let app = exec_app("execcode", "app", 2, 0, 5);
    h.installed(&app).await;
    h.exec_answers("execcode", 3, "starting\nnot ready");
    let (status, _) = h.until_restarting(&app).await;
    assert!(
        status.reason.starts_with(
            "execcode: exec `check ready` in archy-execcode → exit code 3: starting / not ready \
             (2 failures in a row); restart 1 now"
        ),
        "{}",
        status.reason
    );
}

#[tokio::test(start_paused = true)]
async fn test_health_monitor_timeout_counts_as_failure() {
    let h = Harness::new();
    let app = exec_app("slowprobe", "app", 2, 0, 2);
    h.installed(&app).await;
    h.mock.hold(Op::Exec);
    let (status, took) = h.until_restarting(&app).await;
    // Probe at 1 s times out at 3 s; probe at 4 s times out at 6 s.
    assert_eq!(took, secs(6));
    assert!(
        status
            .reason
            .contains("→ no answer within 2 s (2 failures in a row)"),
        "{}",
        status.reason
    );
}

#[tokio::test(start_paused = true)]
async fn an_app_up_before_its_manifest_reaches_the_monitor_is_probed_once_it_does() {
    // At boot an adopted app can be Running before the registry's first
    // broadcast fills the manifest lookup; no later transition comes.
    let h = Harness::new();
    let app = exec_app("late", "app", 1, 0, 5);
    h.installed(&app).await;
    h.exec_answers("late", 0, "ok");
    let known: Arc<Mutex<Option<Arc<Manifest>>>> = Arc::default();
    let (catalog, catalog_changed) = tokio::sync::watch::channel(0);
    let lookup = known.clone();
    h.health_following(
        Arc::new(move |_: &str| lookup.lock().unwrap().clone()),
        catalog_changed,
    )
    .await;
    tokio::time::sleep(secs(3)).await;
    assert_eq!(
        h.mock.calls(Op::Exec),
        0,
        "no manifest yet: nothing to probe"
    );

    *known.lock().unwrap() = Some(Arc::new(app.clone()));
    catalog.send_modify(|generation| *generation += 1);
    let status = h.until("late", |s| s.health == Health::Healthy).await;
    assert_eq!(status.state, AppState::Running);
}

#[tokio::test(start_paused = true)]
async fn test_health_monitor_waits_for_running() {
    let h = Harness::new();
    let app = exec_app("notyet", "app", 1, 0, 5);
    h.health(&[&app]).await;
    h.installed(&app).await; // 5 s verify window: not probed meanwhile
    assert_eq!(h.mock.calls(Op::Exec), 0);
    tokio::time::sleep(secs(1) + Duration::from_millis(1)).await;
    assert_eq!(h.mock.calls(Op::Exec), 1);
    assert_eq!(h.board.get("notyet").unwrap().health, Health::Healthy);
}

#[tokio::test(start_paused = true)]
async fn test_health_monitor_skips_user_stopped() {
    let h = Harness::new();
    let app = exec_app("userstop", "app", 1, 0, 5);
    let actor = h.installed(&app).await;
    h.health(&[&app]).await;
    ask(&actor, "userstop", |reply| AppMsg::Stop { reply })
        .await
        .unwrap();
    h.exec_answers("userstop", 1, "");
    h.mock.reset_calls();
    tokio::time::sleep(secs(120)).await;
    assert_eq!(h.mock.calls(Op::Exec), 0);
    assert_eq!(h.mock.calls(Op::Start), 0);
    let status = h.board.get("userstop").unwrap();
    assert_eq!((status.state, status.restart_count), (AppState::Stopped, 0));
}

#[tokio::test(start_paused = true)]
async fn test_health_monitor_max_attempts() {
    let policy = RestartPolicy {
        max_attempts: 2,
        initial_backoff: secs(1),
        ..RestartPolicy::default()
    };
    let h = Harness::with(AppConfig::default(), policy);
    let app = exec_app("alwayssick", "app", 1, 0, 5);
    h.installed(&app).await;
    h.exec_answers("alwayssick", 1, "database is gone");
    h.health(&[&app]).await;
    let status = h
        .until("alwayssick", |s| matches!(s.state, AppState::Failed { .. }))
        .await;
    assert_eq!(status.restart_count, 2);
    assert_eq!(h.mock.calls(Op::Start), 3); // install + two restarts
    assert!(
        status.reason.contains("exit code 1: database is gone"),
        "{}",
        status.reason
    );
    assert!(
        status.reason.contains("2 times in a row"),
        "{}",
        status.reason
    );
    // Failed is not up: no more probes, no more restarts.
    let probes = h.mock.calls(Op::Exec);
    tokio::time::sleep(secs(60)).await;
    assert_eq!(h.mock.calls(Op::Exec), probes);
    assert_eq!(h.mock.calls(Op::Start), 3);
}

#[tokio::test(start_paused = true)]
async fn test_health_monitor_tier_ordering() {
    let h = Harness::new();
    // Named so that id order is the opposite of tier order.
    let web = exec_app("tier-a-web", "app", 1, 0, 5);
    let db = exec_app("tier-b-db", "database", 1, 0, 5);
    h.installed(&web).await;
    h.installed(&db).await;
    h.exec_answers("tier-a-web", 1, "");
    h.exec_answers("tier-b-db", 1, "");
    let mut transitions = h.board.subscribe();
    h.health(&[&web, &db]).await; // both probed in the same round
    let mut unhealthy = Vec::new();
    while unhealthy.len() < 2 {
        let t: Transition = transitions.recv().await.unwrap();
        if t.to == "unhealthy" {
            unhealthy.push(t.app);
        }
    }
    assert_eq!(unhealthy, ["tier-b-db", "tier-a-web"]);
}

// ---- http and tcp against real loopback listeners (real time) ----------------

/// Answers every connection with `status` and closes it.
async fn http_server(status: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            let response =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    port
}

fn loopback(port: u16) -> std::net::SocketAddr {
    ([127, 0, 0, 1], port).into()
}

#[tokio::test]
async fn test_health_monitor_http_status_mismatch() {
    let prober = Prober::new(Arc::new(MockRuntime::new()));
    let http = |port, status| ProbeTarget::Http {
        addr: loopback(port),
        path: "/index.html".into(),
        status,
    };
    let port = http_server(503).await;
    assert_eq!(
        prober.probe(&http(port, 200), secs(5)).await,
        ProbeOutcome::Failure("503, expected 200".into())
    );
    assert_eq!(
        prober.probe(&http(port, 503), secs(5)).await,
        ProbeOutcome::Success
    );
}

#[tokio::test]
async fn test_health_monitor_http_reason_reaches_the_app() {
    let config = AppConfig {
        verify_window: Duration::from_millis(50),
        ..AppConfig::default()
    };
    let h = Harness::with(config, RestartPolicy::default());
    let port = http_server(503).await;
    let app = manifest(&format!(
        "id: httpapp\nname: httpapp\nversion: \"1\"\ncontainer:\n  \
         image: docker.io/library/probe:1\n  ports:\n  - {{container: 80, host: {port}}}\n  \
         health:\n    http: {{port: 80, path: /index.html}}\n    interval_secs: 1\n    \
         retries: 1\n    start_period_secs: 0\n"
    ));
    h.installed(&app).await;
    let mut transitions = h.board.subscribe();
    h.health(&[&app]).await;
    let unhealthy = loop {
        let t = transitions.recv().await.unwrap();
        if t.app == "httpapp" && t.to == "unhealthy" {
            break t;
        }
    };
    assert_eq!(
        unhealthy.reason,
        format!("httpapp: http GET 127.0.0.1:{port}/index.html → 503, expected 200 (1 failure)")
    );
}

#[tokio::test]
async fn test_health_monitor_tcp_refused() {
    let prober = Prober::new(Arc::new(MockRuntime::new()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tcp = ProbeTarget::Tcp {
        addr: loopback(port),
    };
    assert_eq!(prober.probe(&tcp, secs(5)).await, ProbeOutcome::Success);
    drop(listener);
    match prober.probe(&tcp, secs(5)).await {
        ProbeOutcome::Failure(why) => assert!(why.contains("refused"), "{why}"),
        other => panic!("expected a refused connection, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn test_health_monitor_verdict_starts_over_after_a_restart() {
    let h = Harness::new();
    let app = exec_app("againok", "app", 1, 0, 5);
    h.installed(&app).await;
    h.exec_answers("againok", 1, "");
    let mut transitions = h.board.subscribe();
    h.until_restarting(&app).await;
    next_transition(&mut transitions, "againok", |t| t.to == "running").await;
    assert_eq!(h.board.get("againok").unwrap().health, Health::Unknown);
    h.exec_answers("againok", 0, "");
    let status = h.until("againok", |s| s.health == Health::Healthy).await;
    assert_eq!((status.state, status.restart_count), (AppState::Running, 1));
    assert_eq!(h.mock.calls(Op::Start), 2);
}
