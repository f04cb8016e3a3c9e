//! A UI companion against the real engine, with the demo catalog:
//! installing demo-web brings its companion demo-web-ui up on
//! 127.0.0.1:18081; a companion container removed by hand is back within one
//! (short) period; uninstalling demo-web removes it.
//!
//! The demo ports and app names are shared with other test runs on this
//! machine: the test holds `flock` on /tmp/archy-demo-ports.lock throughout.
//! When no engine answers it fails, unless `ARCHY_SKIP_ENGINE_TESTS=1`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use archy_actors::companions::CompanionState;
use archy_actors::status::Health;
use archy_actors::tree::{Archy, Request, TreeConfig};
use archy_runtime::podman::PodmanRuntime;
use archy_runtime::{RunState, SharedRuntime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEMO_PORTS_LOCK: &str = "/tmp/archy-demo-ports.lock";
const APP: &str = "demo-web";
const COMPANION: &str = "demo-web-ui";
const CONTAINERS: [&str; 2] = ["archy-demo-web", "archy-demo-web-demo-web-ui"];
const PERIOD: Duration = Duration::from_secs(2);
/// Generous: the first install builds two images on a busy machine.
const DEADLINE: Duration = Duration::from_secs(300);

/// Holds the machine-wide demo lock; removes the demo containers on drop,
/// even when the test fails.
struct DemoGuard {
    socket: PathBuf,
    _lock: File,
}

impl DemoGuard {
    fn take(socket: &Path) -> DemoGuard {
        let lock = File::create(DEMO_PORTS_LOCK)
            .unwrap_or_else(|e| panic!("cannot open {DEMO_PORTS_LOCK}: {e}"));
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .unwrap_or_else(|e| panic!("cannot lock {DEMO_PORTS_LOCK}: {e}"));
        let guard = DemoGuard {
            socket: socket.to_path_buf(),
            _lock: lock,
        };
        guard.remove_demo_containers();
        guard
    }

    fn remove_demo_containers(&self) {
        let _ = std::process::Command::new("podman")
            .arg("--url")
            .arg(format!("unix://{}", self.socket.display()))
            .args(["rm", "--force", "--ignore"])
            .args(CONTAINERS)
            .output();
    }
}

impl Drop for DemoGuard {
    fn drop(&mut self) {
        self.remove_demo_containers();
    }
}

async fn engine() -> Option<PodmanRuntime> {
    if std::env::var("ARCHY_SKIP_ENGINE_TESTS").as_deref() == Ok("1") {
        eprintln!("ARCHY_SKIP_ENGINE_TESTS=1: skipping a Podman test");
        return None;
    }
    match PodmanRuntime::discover(None).await {
        Ok(rt) => Some(rt),
        Err(e) => panic!(
            "no container engine answered; run scripts/setup.sh --socket, \
             or set ARCHY_SKIP_ENGINE_TESTS=1 to skip ({e})"
        ),
    }
}

/// One HTTP/1.0 GET on 127.0.0.1:`port`; the whole response.
async fn http_get(port: u16) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("nothing answers on 127.0.0.1:{port}: {e}"));
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn demo_web_companion_answers_heals_and_goes_with_its_app() {
    let Some(podman) = engine().await else {
        return;
    };
    let _demo = DemoGuard::take(podman.socket());
    let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps/demo");
    let state = tempfile::tempdir().unwrap();
    let mut config = TreeConfig::new(state.path());
    config.registry.dirs = vec![catalog];
    config.registry.poll_every = None;
    config.companions.period = PERIOD;
    let runtime: SharedRuntime = Arc::new(podman);
    let archy = Archy::boot(config, runtime.clone()).await.unwrap();

    archy.request(APP, Request::Install, true).await.unwrap();
    // Healthy means its HTTP probe answered on the published port.
    let healthy = archy
        .companions()
        .wait_for(
            APP,
            COMPANION,
            |s| s.is_some_and(|s| s.health == Health::Healthy),
            DEADLINE,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(healthy.state, CompanionState::Running);
    let page = http_get(18081).await;
    assert!(
        page.lines().next().is_some_and(|l| l.contains(" 200 ")),
        "{page}"
    );
    assert!(page.contains("Demo web"), "{page}");

    let container = CONTAINERS[1];
    runtime.remove(container, true, false).await.unwrap();
    let removed = Instant::now();
    archy
        .companions()
        .wait_for(
            APP,
            COMPANION,
            |s| s.is_some_and(|s| s.restarts == 1),
            DEADLINE,
        )
        .await
        .unwrap();
    let back = removed.elapsed();
    assert_eq!(
        runtime.inspect(container).await.unwrap().state,
        RunState::Running
    );
    // One period, plus the create and start calls themselves.
    assert!(
        back <= PERIOD + Duration::from_secs(3),
        "back after {back:?}"
    );
    eprintln!("companion back {back:?} after its removal (period {PERIOD:?})");

    archy
        .request(APP, Request::Uninstall { purge: true }, true)
        .await
        .unwrap();
    archy
        .companions()
        .wait_for(APP, COMPANION, |s| s.is_none(), DEADLINE)
        .await
        .unwrap();
    let gone = runtime.inspect(container).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    archy.shutdown().await;
}
