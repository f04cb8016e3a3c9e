//! The Podman adapter against the real engine socket.
//!
//! The engine is found by discovery. When none answers these tests fail,
//! unless `ARCHY_SKIP_ENGINE_TESTS=1`. Every test names its objects with a
//! unique prefix and removes them through a guard, even when it fails, so
//! tests run in parallel and leave nothing behind.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use archy_runtime::podman::PodmanRuntime;
use archy_runtime::{
    labels, BuildRequest, ContainerRuntime, ContainerSpec, EngineEventKind, Mount, MountSource,
    PortBinding, Protocol, RunState, RuntimeError, STOP_DEADLINE_MARGIN,
};
use futures::StreamExt;

const BASE_IMAGE: &str = "localhost/archy-base:latest";
/// A PID 1 that exits promptly on SIGTERM.
const POLITE: &str = "trap 'exit 0' TERM; while :; do sleep 0.1; done";
/// A PID 1 that ignores SIGTERM: only SIGKILL ends it.
const STUBBORN: &str = "trap '' TERM; while :; do sleep 1; done";

// ---------------------------------------------------------------- harness

/// The engine, or `None` when the run opted out of engine tests.
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

/// Unique names for one test, and removal of everything named, on drop.
struct Scope {
    socket: PathBuf,
    prefix: String,
    /// (`podman` object kind, name) to remove.
    owned: Vec<(&'static str, String)>,
}

impl Scope {
    fn new(rt: &PodmanRuntime, test: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Scope {
            socket: rt.socket().to_path_buf(),
            prefix: format!("archy-t{}-{nanos:x}-{test}", std::process::id()),
            owned: Vec::new(),
        }
    }

    fn own(&mut self, kind: &'static str, name: String) -> String {
        self.owned.push((kind, name.clone()));
        name
    }

    fn container(&mut self, what: &str) -> String {
        self.own("container", format!("{}-{what}", self.prefix))
    }

    fn volume(&mut self, what: &str) -> String {
        self.own("volume", format!("{}-{what}", self.prefix))
    }

    fn network(&mut self, what: &str) -> String {
        self.own("network", format!("{}-{what}", self.prefix))
    }

    fn image(&mut self, what: &str) -> String {
        self.own("image", format!("localhost/{}-{what}:test", self.prefix))
    }

    /// A managed container spec running `script` in the base image.
    fn spec(&mut self, what: &str, script: &str) -> ContainerSpec {
        ContainerSpec {
            name: self.container(what),
            image: BASE_IMAGE.into(),
            cmd: Some(sh(script)),
            labels: BTreeMap::from([
                (labels::APP.to_string(), self.prefix.clone()),
                (labels::MEMBER.to_string(), what.to_string()),
            ]),
            stop_grace_secs: 2,
            ..Default::default()
        }
    }
}

impl Drop for Scope {
    /// Remove through the same socket with the podman CLI: synchronous, so
    /// it also runs while a failing test unwinds inside its runtime.
    /// Containers go first, so their volumes and networks are free.
    fn drop(&mut self) {
        let url = format!("unix://{}", self.socket.display());
        for kind in ["container", "volume", "network", "image"] {
            let names: Vec<&String> = self
                .owned
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, name)| name)
                .collect();
            if !names.is_empty() {
                let _ = std::process::Command::new("podman")
                    .args(["--url", &url, kind, "rm", "-f"])
                    .args(names)
                    .output();
            }
        }
    }
}

async fn observed(rt: &PodmanRuntime, name: &str) -> Option<archy_runtime::Observed> {
    rt.list_managed()
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.name == name)
}

async fn run(rt: &PodmanRuntime, spec: &ContainerSpec) {
    rt.create(spec).await.unwrap();
    rt.start(&spec.name).await.unwrap();
}

/// The engine, a scope, and a started container of it running `script`.
async fn running(test: &str, script: &str) -> Option<(PodmanRuntime, Scope, ContainerSpec)> {
    let rt = engine().await?;
    let mut scope = Scope::new(&rt, test);
    let spec = scope.spec("main", script);
    run(&rt, &spec).await;
    Some((rt, scope, spec))
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

// ---------------------------------------------------------------- lifecycle

#[tokio::test]
async fn lifecycle_create_start_list_stop_remove() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "life");
    let spec = scope.spec("web", POLITE);

    let id = rt.create(&spec).await.unwrap();
    assert!(!id.is_empty());
    let seen = observed(&rt, &spec.name)
        .await
        .expect("listed after create");
    assert_eq!(seen.id, id);
    assert_eq!(seen.app, scope.prefix);
    assert_eq!(seen.state, RunState::Created);
    assert_eq!(
        seen.spec_hash,
        Some(spec.spec_hash()),
        "hash stamped at create"
    );
    assert_eq!(seen.labels[labels::MEMBER], "web");
    assert_eq!(seen.image, BASE_IMAGE);

    rt.start(&spec.name).await.unwrap();
    rt.start(&spec.name)
        .await
        .expect("starting a running container is Ok");
    assert_eq!(
        observed(&rt, &spec.name).await.unwrap().state,
        RunState::Running
    );
    let details = rt.inspect(&spec.name).await.unwrap();
    assert_eq!(details.name, spec.name);
    assert_eq!(details.image, BASE_IMAGE);
    assert_eq!(details.state, RunState::Running);
    assert!(details.started_at.is_some());
    assert_eq!(details.labels[labels::APP], scope.prefix);

    rt.stop(&spec.name, Duration::from_secs(5)).await.unwrap();
    rt.stop(&spec.name, Duration::from_secs(5))
        .await
        .expect("stopping a stopped container is Ok");
    let seen = observed(&rt, &spec.name).await.unwrap();
    assert_eq!(seen.state, RunState::Exited);
    assert_eq!(seen.exit_code, Some(0), "trap exits 0 on SIGTERM");

    rt.remove(&spec.name, false, true).await.unwrap();
    assert!(observed(&rt, &spec.name).await.is_none());
    assert!(rt.inspect(&spec.name).await.unwrap_err().is_not_found());
    assert!(rt
        .stop(&spec.name, Duration::from_secs(1))
        .await
        .unwrap_err()
        .is_not_found());
}

#[tokio::test]
async fn stop_waits_the_grace_then_kills_a_pid1_ignoring_sigterm() {
    let Some((rt, _scope, spec)) = running("grace", STUBBORN).await else {
        return;
    };

    let grace = Duration::from_secs(2);
    let began = Instant::now();
    rt.stop(&spec.name, grace).await.unwrap();
    let took = began.elapsed();

    assert!(took >= grace, "stopped after {took:?}, before its grace");
    assert!(took < grace + STOP_DEADLINE_MARGIN, "stop took {took:?}");
    let details = rt.inspect(&spec.name).await.unwrap();
    assert_eq!(details.state, RunState::Exited);
    assert_eq!(details.exit_code, Some(137), "SIGKILLed");
    eprintln!("stop with grace {grace:?} of a SIGTERM-ignoring PID 1 took {took:?}");
}

#[tokio::test]
async fn removing_a_running_container_needs_force() {
    let Some((rt, _scope, spec)) = running("rmforce", POLITE).await else {
        return;
    };

    let err = rt.remove(&spec.name, false, false).await.unwrap_err();
    assert!(matches!(err, RuntimeError::InvalidState { .. }), "{err:?}");
    assert!(observed(&rt, &spec.name).await.is_some());
    rt.remove(&spec.name, true, true).await.unwrap();
    assert!(observed(&rt, &spec.name).await.is_none());
}

#[tokio::test]
async fn duplicate_name_is_name_in_use() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "dup");
    let spec = scope.spec("web", POLITE);
    rt.create(&spec).await.unwrap();
    assert_eq!(
        rt.create(&spec).await.unwrap_err(),
        RuntimeError::NameInUse {
            name: spec.name.clone()
        }
    );
}

#[tokio::test]
async fn create_from_a_missing_image_is_not_found() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "noimg");
    let mut spec = scope.spec("web", POLITE);
    spec.image = format!("localhost/{}-missing:1", scope.prefix);
    let err = rt.create(&spec).await.unwrap_err();
    assert_eq!(
        err,
        RuntimeError::NotFound {
            what: format!("image {:?}", spec.image)
        }
    );
}

#[tokio::test]
async fn create_on_a_missing_network_is_not_found() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "nonet");
    let mut spec = scope.spec("web", POLITE);
    let network = format!("{}-missing", scope.prefix);
    spec.network = Some(network.clone());
    assert_eq!(
        rt.create(&spec).await.unwrap_err(),
        RuntimeError::NotFound {
            what: format!("network {network:?}")
        }
    );
}

#[tokio::test]
async fn kill_stops_a_running_container_and_refuses_a_stopped_one() {
    let Some((rt, _scope, spec)) = running("kill", STUBBORN).await else {
        return;
    };

    rt.kill(&spec.name, "SIGKILL").await.unwrap();
    let details = rt.inspect(&spec.name).await.unwrap();
    assert_eq!(details.state, RunState::Exited);
    assert_eq!(details.exit_code, Some(137));
    assert!(matches!(
        rt.kill(&spec.name, "SIGKILL").await.unwrap_err(),
        RuntimeError::InvalidState { .. }
    ));
}

// ---------------------------------------------------------------- images

#[tokio::test]
async fn image_present_tells_local_images_from_missing_ones() {
    let Some(rt) = engine().await else { return };
    assert!(rt.image_present(BASE_IMAGE).await.unwrap());
    assert!(!rt
        .image_present("localhost/archy-no-such-image:never")
        .await
        .unwrap());
}

#[tokio::test]
async fn pull_of_a_nonexistent_image_fails_fast_as_image_failed() {
    let Some(rt) = engine().await else { return };
    let image = "localhost:1/archy-no-such-image:never";
    let (sink, _lines) = tokio::sync::mpsc::unbounded_channel();
    let began = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(60), rt.pull(image, Some(sink)))
        .await
        .expect("a pull from nowhere must fail within a minute");
    assert!(
        matches!(&result, Err(RuntimeError::ImageFailed { image: i, .. }) if i == image),
        "{result:?}"
    );
    eprintln!("failed pull took {:?}: {result:?}", began.elapsed());
}

/// A context dir whose Containerfile is `FROM` the base image plus `steps`,
/// with `files`, and a request to build it under a scope-owned tag.
fn build_context(
    scope: &mut Scope,
    steps: &str,
    files: &[(&str, &str)],
) -> (tempfile::TempDir, BuildRequest) {
    let context = tempfile::tempdir().unwrap();
    let containerfile = format!("FROM {BASE_IMAGE}\n{steps}\n");
    std::fs::write(context.path().join("Containerfile"), containerfile).unwrap();
    for (name, content) in files {
        std::fs::write(context.path().join(name), content).unwrap();
    }
    let request = BuildRequest {
        context: context.path().to_path_buf(),
        containerfile: "Containerfile".into(),
        tag: scope.image("built"),
        labels: BTreeMap::new(),
    };
    (context, request)
}

#[tokio::test]
async fn build_from_a_context_dir_labels_the_image() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "build");
    let (_context, mut request) = build_context(
        &mut scope,
        "CMD [\"cat\", \"/greeting\"]\nCOPY greeting /greeting",
        &[("greeting", "built by archy\n")],
    );
    request
        .labels
        .insert(labels::CONTEXT_HASH.to_string(), "ctx-1".to_string());
    let tag = request.tag.clone();
    let (sink, mut lines) = tokio::sync::mpsc::unbounded_channel();
    rt.build(&request, Some(sink)).await.unwrap();

    assert!(rt.image_present(&tag).await.unwrap());
    let image_labels = rt.image_labels(&tag).await.unwrap();
    assert_eq!(image_labels[labels::CONTEXT_HASH], "ctx-1");
    let mut progress = Vec::new();
    while let Ok(line) = lines.try_recv() {
        progress.push(line);
    }
    assert!(!progress.is_empty(), "build progress reached the sink");

    let mut spec = scope.spec("built", "");
    spec.image = tag.clone();
    spec.cmd = None;
    rt.create(&spec).await.unwrap();
    rt.start(&spec.name).await.unwrap();
    let exited = wait_for_state(&rt, &spec.name, RunState::Exited).await;
    assert_eq!(exited.exit_code, Some(0));
    assert_eq!(
        rt.logs(&spec.name, 10).await.unwrap(),
        vec!["built by archy"]
    );
}

#[tokio::test]
async fn failing_build_step_is_image_failed() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "badbuild");
    let (_context, request) = build_context(&mut scope, "RUN exit 3", &[]);
    let err = rt.build(&request, None).await.unwrap_err();
    assert!(matches!(err, RuntimeError::ImageFailed { .. }), "{err:?}");
}

#[tokio::test]
async fn image_labels_of_a_missing_image_is_not_found() {
    let Some(rt) = engine().await else { return };
    let err = rt
        .image_labels("localhost/archy-no-such-image:never")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

// ---------------------------------------------------------------- exec, logs

#[tokio::test]
async fn exec_returns_exit_code_and_combined_output() {
    let Some((rt, _scope, spec)) = running("exec", POLITE).await else {
        return;
    };

    let out = rt
        .exec(&spec.name, &sh("echo out; echo err >&2; exit 4"))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 4);
    assert!(
        out.output.contains("out") && out.output.contains("err"),
        "{out:?}"
    );
    assert_eq!(rt.exec(&spec.name, &sh("true")).await.unwrap().exit_code, 0);

    rt.stop(&spec.name, Duration::from_secs(5)).await.unwrap();
    let err = rt.exec(&spec.name, &sh("true")).await.unwrap_err();
    assert!(matches!(err, RuntimeError::InvalidState { .. }), "{err:?}");
}

#[tokio::test]
async fn logs_return_the_last_lines_of_both_streams() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "logs");
    let spec = scope.spec(
        "talker",
        "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2",
    );
    run(&rt, &spec).await;
    wait_for_state(&rt, &spec.name, RunState::Exited).await;

    let all = rt.logs(&spec.name, 100).await.unwrap();
    assert_eq!(all.len(), 6, "{all:?}");
    assert!(
        all.contains(&"oops".to_string()),
        "stderr included: {all:?}"
    );
    assert_eq!(rt.logs(&spec.name, 2).await.unwrap().len(), 2);
    assert!(rt
        .logs("archy-no-such-container", 5)
        .await
        .unwrap_err()
        .is_not_found());
}

/// Wait (with a deadline) until a container reaches `state`.
async fn wait_for_state(
    rt: &PodmanRuntime,
    name: &str,
    state: RunState,
) -> archy_runtime::Observed {
    let reached = || async { observed(rt, name).await.filter(|o| o.state == state) };
    eventually(
        &format!("{name} reaching {state:?}"),
        Duration::from_secs(20),
        reached,
    )
    .await
}

/// Poll `probe` every 50 ms until it yields a value; fail after `within`.
async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        poll.tick().await;
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
    }
}

// ---------------------------------------------------------------- events

#[tokio::test]
async fn events_report_start_and_die_of_managed_containers() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "events");
    // Podman ends every event stream when it rotates its events log (1 MiB
    // by default), which a busy test machine hits now and then; Archy's
    // reconciler reopens its stream. A stream ended early is tried again
    // with a fresh subscription and a fresh container.
    let mut seen = None;
    for attempt in 1..=3 {
        let spec = scope.spec(&format!("brief{attempt}"), "sleep 0.3; exit 5");
        let name = spec.name.clone();
        // Subscribe and start polling before acting: streams are lazy.
        let mut events = rt.events().await.unwrap();
        let watcher = tokio::spawn(async move {
            let mut kinds = Vec::new();
            while let Some(event) = events.next().await {
                let event = event.unwrap();
                if event.container == name {
                    kinds.push(event.kind.clone());
                    if matches!(event.kind, EngineEventKind::Die { .. }) {
                        return Some((kinds, event));
                    }
                }
            }
            None
        });
        run(&rt, &spec).await;
        let outcome = tokio::time::timeout(Duration::from_secs(20), watcher)
            .await
            .expect("start and die events within 20 s")
            .unwrap();
        if outcome.is_some() {
            seen = outcome;
            break;
        }
        eprintln!("attempt {attempt}: the event stream ended first (events log rotated?)");
    }
    let (kinds, die) = seen.expect("an event stream that lasted until the die event");
    assert!(kinds.contains(&EngineEventKind::Start), "{kinds:?}");
    assert_eq!(die.kind, EngineEventKind::Die { exit_code: Some(5) });
    assert_eq!(die.app.as_deref(), Some(scope.prefix.as_str()));
}

#[tokio::test]
async fn events_after_subscribing_arrive_even_when_polled_late() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "lateevents");
    let spec = scope.spec("brief", "exit 7");

    // Subscribe, let the container live and die, and only then poll: the
    // subscription replays from the moment `events()` was called.
    let events = rt.events().await.unwrap();
    run(&rt, &spec).await;
    wait_for_state(&rt, &spec.name, RunState::Exited).await;

    let name = spec.name.clone();
    let mut dies = events
        .filter_map(|e| futures::future::ready(e.ok().filter(|e| e.container == name)))
        .filter(|e| futures::future::ready(matches!(e.kind, EngineEventKind::Die { .. })))
        .boxed();
    let die = tokio::time::timeout(Duration::from_secs(20), dies.next())
        .await
        .expect("the die event is replayed within 20 s")
        .expect("stream open");
    assert_eq!(die.kind, EngineEventKind::Die { exit_code: Some(7) });
}

// ---------------------------------------------------------------- network, volumes

#[tokio::test]
async fn ensure_network_is_idempotent_and_aliases_resolve_on_it() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "net");
    let network = scope.network("net");
    rt.ensure_network(&network).await.unwrap();
    rt.ensure_network(&network).await.expect("idempotent");

    let alias = format!("{}-db", scope.prefix);
    let mut db = scope.spec("db", POLITE);
    db.network = Some(network.clone());
    db.network_aliases = vec![alias.clone()];
    let mut app = scope.spec("app", POLITE);
    app.network = Some(network.clone());
    run(&rt, &db).await;
    run(&rt, &app).await;

    let lookup = rt
        .exec(&app.name, &sh(&format!("nslookup {alias}")))
        .await
        .unwrap();
    assert_eq!(
        lookup.exit_code, 0,
        "{alias} did not resolve: {}",
        lookup.output
    );
    assert!(lookup.output.contains("Address"), "{}", lookup.output);
}

#[tokio::test]
async fn named_volume_mount_persists_and_remove_volume_tolerates_missing() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "vol");
    let volume = scope.volume("data");
    let mut writer = scope.spec("writer", "echo kept > /data/file");
    writer.mounts = vec![Mount {
        source: MountSource::Volume(volume.clone()),
        target: "/data".into(),
        read_only: false,
    }];
    run(&rt, &writer).await;
    wait_for_state(&rt, &writer.name, RunState::Exited).await;
    rt.remove(&writer.name, false, true).await.unwrap();

    let mut reader = scope.spec("reader", "cat /data/file");
    reader.mounts = writer.mounts.clone();
    reader.mounts[0].read_only = true;
    run(&rt, &reader).await;
    wait_for_state(&rt, &reader.name, RunState::Exited).await;
    assert_eq!(
        rt.logs(&reader.name, 5).await.unwrap(),
        vec!["kept"],
        "a named volume outlives its container"
    );
    rt.remove(&reader.name, false, true).await.unwrap();

    rt.remove_volume(&volume).await.unwrap();
    rt.remove_volume(&volume)
        .await
        .expect("missing volume is Ok");
    let mut again = scope.spec("again", "test ! -e /data/file");
    again.mounts = reader.mounts.clone();
    run(&rt, &again).await;
    let fresh = wait_for_state(&rt, &again.name, RunState::Exited).await;
    assert_eq!(fresh.exit_code, Some(0), "the volume was really removed");
}

#[tokio::test]
async fn bind_mounts_and_least_privilege_reach_the_container() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "bind");
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("conf"), "from host\n").unwrap();
    let mut spec = scope.spec(
        "reader",
        "cat /conf/conf; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status",
    );
    spec.mounts = vec![Mount {
        source: MountSource::Bind(host.path().to_path_buf()),
        target: "/conf".into(),
        read_only: true,
    }];
    run(&rt, &spec).await;
    wait_for_state(&rt, &spec.name, RunState::Exited).await;
    let logs = rt.logs(&spec.name, 10).await.unwrap();
    assert_eq!(logs[0], "from host");
    assert!(
        logs.iter()
            .any(|l| l.starts_with("NoNewPrivs:") && l.ends_with('1')),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.starts_with("CapEff:") && l.ends_with("0000000000000000")),
        "all capabilities dropped: {logs:?}"
    );
}

#[tokio::test]
async fn published_port_answers_on_the_host_and_user_is_applied() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "port");
    let host_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "hello-archy\n").unwrap();
    let mut spec = scope.spec("web", "exec httpd -f -p 8080 -h /www");
    spec.mounts = vec![Mount {
        source: MountSource::Bind(site.path().to_path_buf()),
        target: "/www".into(),
        read_only: true,
    }];
    spec.ports = vec![PortBinding {
        container_port: 8080,
        host_port,
        host_ip: "127.0.0.1".into(),
        protocol: Protocol::Tcp,
    }];
    spec.user = Some("1000:1000".into());
    run(&rt, &spec).await;

    let id = rt.exec(&spec.name, &sh("id -u")).await.unwrap();
    assert_eq!(id.output.trim(), "1000");

    let fetch = || async {
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", host_port))
            .await
            .ok()?;
        conn.write_all(b"GET / HTTP/1.0\r\n\r\n").await.ok()?;
        let mut page = String::new();
        conn.read_to_string(&mut page).await.ok()?;
        Some(page).filter(|p| p.contains("hello-archy"))
    };
    let page = eventually("the published port answers", Duration::from_secs(10), fetch).await;
    assert!(
        page.starts_with("HTTP/1.1 200") || page.starts_with("HTTP/1.0 200"),
        "{page}"
    );
}

// ---------------------------------------------------------------- Podman quirks

/// Podman's transient `stopped` state breaks bollard's typed list; crash-loop
/// two containers (restart=always, created behind the adapter's back) and
/// check every `list_managed` still answers, counting how often the typed
/// list alone would have failed.
#[tokio::test]
async fn list_managed_survives_podmans_stopped_state_while_containers_crash_loop() {
    use bollard::query_parameters::{CreateContainerOptionsBuilder, ListContainersOptionsBuilder};
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "crash");
    let docker = bollard::Docker::connect_with_unix(
        &rt.socket().to_string_lossy(),
        30,
        bollard::API_DEFAULT_VERSION,
    )
    .unwrap();
    let mut names = Vec::new();
    for i in 0..2 {
        let name = scope.container(&format!("loop{i}"));
        let body = bollard::models::ContainerCreateBody {
            image: Some(BASE_IMAGE.into()),
            cmd: Some(sh("exit 1")),
            labels: Some([(labels::APP.to_string(), scope.prefix.clone())].into()),
            host_config: Some(bollard::models::HostConfig {
                restart_policy: Some(bollard::models::RestartPolicy {
                    name: Some(bollard::models::RestartPolicyNameEnum::ALWAYS),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        docker.create_container(Some(options), body).await.unwrap();
        docker.start_container(&name, None).await.unwrap();
        names.push(name);
    }

    let filters = std::collections::HashMap::from([("label", vec![labels::APP])]);
    let typed = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let (mut typed_list_failures, mut typed_inspect_failures, rounds) = (0, 0, 40);
    let mut first_failure = None;
    for _ in 0..rounds {
        if let Err(e) = docker.list_containers(Some(typed.clone())).await {
            typed_list_failures += 1;
            first_failure.get_or_insert(e.to_string());
        }
        if docker.inspect_container(&names[0], None).await.is_err() {
            typed_inspect_failures += 1;
        }
        let listed = rt.list_managed().await.expect("list_managed never fails");
        assert!(names.iter().all(|n| listed.iter().any(|o| &o.name == n)));
        let _ = rt.inspect(&names[0]).await.expect("inspect never fails");
    }
    eprintln!(
        "typed bollard list failed {typed_list_failures}/{rounds}, inspect \
         {typed_inspect_failures}/{rounds} ({first_failure:?}); adapter 0/{rounds}"
    );
}

// ---------------------------------------------------------------- discovery, service

#[tokio::test]
async fn discovery_skips_dead_explicit_sockets_and_finds_the_engine() {
    let Some(rt) = engine().await else { return };
    let dead = tempfile::tempdir().unwrap();
    let via_fallback = PodmanRuntime::discover(Some(&dead.path().join("none.sock")))
        .await
        .unwrap();
    via_fallback.ping().await.unwrap();
    let explicit = PodmanRuntime::discover(Some(rt.socket())).await.unwrap();
    assert_eq!(explicit.socket(), rt.socket());
}

#[tokio::test]
async fn owned_podman_service_answers_then_stops_on_shutdown() {
    use archy_runtime::podman::discovery::ping;
    use archy_runtime::podman::service::PodmanService;
    if engine().await.is_none() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let service = PodmanService::start(state.path()).await.unwrap();
    let socket = service.socket().to_path_buf();
    let rt = PodmanRuntime::connect(&socket).await.unwrap();
    rt.list_managed().await.unwrap();
    service.shutdown().await;
    assert!(
        ping(&socket, Duration::from_secs(1)).await.is_err(),
        "the service is gone after shutdown"
    );
}

#[tokio::test]
async fn open_starts_and_owns_a_service_when_no_socket_answers() {
    use archy_runtime::podman::discovery::ping;
    if engine().await.is_none() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let dead = state.path().join("dead.sock");
    let rt = PodmanRuntime::open_among(vec![dead], state.path())
        .await
        .unwrap();
    assert!(rt.owns_service());
    assert_eq!(rt.socket(), state.path().join("podman.sock"));
    rt.list_managed().await.unwrap();

    let socket = rt.socket().to_path_buf();
    drop(rt);
    let gone = || async { ping(&socket, Duration::from_secs(1)).await.err() };
    eventually(
        "the service stops after drop",
        Duration::from_secs(10),
        gone,
    )
    .await;
}

#[tokio::test]
async fn open_uses_an_answering_socket_without_starting_a_service() {
    let Some(engine) = engine().await else { return };
    let state = tempfile::tempdir().unwrap();
    let rt = PodmanRuntime::open(Some(engine.socket()), state.path())
        .await
        .unwrap();
    assert!(!rt.owns_service());
    assert_eq!(rt.socket(), engine.socket());
    assert!(!state.path().join("podman.sock").exists());
}

// ---------------------------------------------------------------- figures

/// Per-call latency at ~20 managed containers (printed; run with
/// `--nocapture`). Asserts only what must hold: the list sees them all.
#[tokio::test]
async fn latency_at_twenty_containers() {
    let Some(rt) = engine().await else { return };
    let mut scope = Scope::new(&rt, "bench");
    let specs: Vec<_> = (0..20)
        .map(|i| scope.spec(&format!("c{i}"), POLITE))
        .collect();
    let mut create = Vec::new();
    let mut start = Vec::new();
    for spec in &specs {
        let t = Instant::now();
        rt.create(spec).await.unwrap();
        create.push(t.elapsed());
        let t = Instant::now();
        rt.start(&spec.name).await.unwrap();
        start.push(t.elapsed());
    }
    let mut list = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let seen = rt.list_managed().await.unwrap();
        list.push(t.elapsed());
        let ours = seen.iter().filter(|o| o.app == scope.prefix).count();
        assert!(ours >= 20, "listed {ours} of 20");
    }
    let mut stop = Vec::new();
    for spec in &specs {
        let t = Instant::now();
        rt.stop(&spec.name, Duration::from_secs(5)).await.unwrap();
        stop.push(t.elapsed());
    }
    for (what, mut times) in [
        ("create", create),
        ("start", start),
        ("list@20", list),
        ("stop", stop),
    ] {
        times.sort();
        eprintln!(
            "{what:>8}: min {:?} median {:?} max {:?}",
            times[0],
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
}
