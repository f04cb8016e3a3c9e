//! The mock engine answers like Podman and each injected fault does what it
//! says, so actor tests built on it mean something.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use archy_runtime::mock::{MockRuntime, Op};
use archy_runtime::{
    labels, BuildRequest, ContainerRuntime, ContainerSpec, EngineEvent, EngineEventKind,
    ExecOutput, Mount, MountSource, Role, RunState, RuntimeError, SharedRuntime,
    STOP_DEADLINE_MARGIN,
};
use futures::stream::{BoxStream, StreamExt};
use tokio::time::{timeout, Instant};

const IMAGE: &str = "localhost/archy-base:latest";

/// A managed app container spec, hash label stamped.
fn app_spec(name: &str) -> ContainerSpec {
    ContainerSpec {
        name: name.into(),
        image: IMAGE.into(),
        labels: BTreeMap::from([
            (labels::APP.into(), "demo".into()),
            (labels::ROLE.into(), "app".into()),
        ]),
        ..Default::default()
    }
    .with_hash_label()
}

/// An engine with the base image and one created app container `web`.
async fn engine_with_web() -> MockRuntime {
    let mock = MockRuntime::new();
    mock.add_image(IMAGE);
    mock.create(&app_spec("web")).await.unwrap();
    mock
}

async fn running_web() -> MockRuntime {
    let mock = engine_with_web().await;
    mock.start("web").await.unwrap();
    mock
}

/// Await `wait`, failing the test if it takes over an hour of tokio time,
/// so a broken mock fails instead of hanging.
async fn within<T>(wait: impl std::future::Future<Output = T>) -> T {
    timeout(Duration::from_secs(3600), wait)
        .await
        .expect("the awaited condition within the deadline")
}

type Events = BoxStream<'static, Result<EngineEvent, RuntimeError>>;

/// The next event, or a failure if none comes within a minute of tokio time.
async fn next_event(events: &mut Events) -> EngineEvent {
    timeout(Duration::from_secs(60), events.next())
        .await
        .expect("an event within the deadline")
        .expect("the stream is open")
        .expect("an event, not an error")
}

fn die(exit_code: i64) -> EngineEventKind {
    EngineEventKind::Die {
        exit_code: Some(exit_code),
    }
}

fn state_of(mock: &MockRuntime, name: &str) -> (RunState, Option<i64>) {
    let c = mock.container(name).expect("container exists");
    (c.state, c.exit_code)
}

mod engine_semantics {
    use super::*;

    #[tokio::test]
    async fn create_rejects_a_taken_name_and_a_missing_image() {
        let mock = engine_with_web().await;
        let taken = mock.create(&app_spec("web")).await.unwrap_err();
        assert_eq!(taken, RuntimeError::NameInUse { name: "web".into() });
        let mut spec = app_spec("db");
        spec.image = "localhost/absent:1".into();
        assert!(mock.create(&spec).await.unwrap_err().is_not_found());
        assert_eq!(mock.container_names(), vec!["web".to_string()]);
    }

    #[tokio::test]
    async fn ids_are_unique_and_stable_across_calls() {
        let mock = engine_with_web().await;
        let db = mock.create(&app_spec("db")).await.unwrap();
        let web = mock.container("web").unwrap().id;
        assert_ne!(web, db);
        assert_eq!(mock.inspect("db").await.unwrap().id, db);
        let listed = mock.list_managed().await.unwrap();
        assert_eq!(listed.iter().find(|o| o.name == "db").unwrap().id, db);
        mock.remove("db", false, false).await.unwrap();
        let recreated = mock.create(&app_spec("db")).await.unwrap();
        assert_ne!(recreated, db, "a new container gets a new id");
    }

    #[tokio::test]
    async fn start_and_stop_are_idempotent() {
        let mock = running_web().await;
        mock.start("web").await.unwrap();
        assert_eq!(mock.container("web").unwrap().start_count, 1);
        mock.stop("web", Duration::from_secs(5)).await.unwrap();
        mock.stop("web", Duration::from_secs(5)).await.unwrap();
        assert_eq!(state_of(&mock, "web"), (RunState::Exited, Some(0)));
        mock.start("web").await.unwrap();
        assert_eq!(state_of(&mock, "web"), (RunState::Running, None));
        assert_eq!(mock.container("web").unwrap().start_count, 2);
    }

    #[tokio::test]
    async fn calls_on_a_missing_container_are_not_found() {
        let mock = MockRuntime::new();
        let grace = Duration::from_secs(1);
        assert!(mock.start("x").await.unwrap_err().is_not_found());
        assert!(mock.stop("x", grace).await.unwrap_err().is_not_found());
        assert!(mock.kill("x", "SIGKILL").await.unwrap_err().is_not_found());
        assert!(mock
            .remove("x", true, true)
            .await
            .unwrap_err()
            .is_not_found());
        assert!(mock.inspect("x").await.unwrap_err().is_not_found());
        assert!(mock.logs("x", 10).await.unwrap_err().is_not_found());
        assert!(mock.exec("x", &[]).await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn removing_a_running_container_needs_force() {
        let mock = running_web().await;
        let refused = mock.remove("web", false, false).await.unwrap_err();
        assert!(matches!(refused, RuntimeError::InvalidState { .. }));
        assert!(mock.container("web").is_some());
        mock.remove("web", true, false).await.unwrap();
        assert!(mock.container("web").is_none());
    }

    #[tokio::test]
    async fn kill_needs_a_running_container_and_a_known_signal() {
        let mock = engine_with_web().await;
        let refused = mock.kill("web", "SIGKILL").await.unwrap_err();
        assert!(matches!(refused, RuntimeError::InvalidState { .. }));
        mock.start("web").await.unwrap();
        let bad = mock.kill("web", "SIGBOGUS").await.unwrap_err();
        assert!(matches!(bad, RuntimeError::BadRequest { .. }));
        mock.kill("web", "SIGKILL").await.unwrap();
        assert_eq!(state_of(&mock, "web"), (RunState::Exited, Some(137)));
        mock.start("web").await.unwrap();
        mock.kill("web", "SIGTERM").await.unwrap();
        assert_eq!(state_of(&mock, "web"), (RunState::Exited, Some(143)));
    }

    #[tokio::test]
    async fn list_managed_shows_only_labelled_containers_with_their_labels() {
        let mock = engine_with_web().await;
        let mut companion = app_spec("demo-ui");
        companion
            .labels
            .insert(labels::ROLE.into(), "companion".into());
        companion.labels.insert(labels::MEMBER.into(), "ui".into());
        let companion = companion.with_hash_label();
        mock.create(&companion).await.unwrap();
        let unmanaged = ContainerSpec {
            name: "someone-elses".into(),
            image: IMAGE.into(),
            ..Default::default()
        };
        mock.create(&unmanaged).await.unwrap();
        mock.start("web").await.unwrap();
        mock.crash("web", 3);

        let listed = mock.list_managed().await.unwrap();
        let names: Vec<_> = listed.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["demo-ui", "web"]);
        let ui = &listed[0];
        assert_eq!(ui.app, "demo");
        assert_eq!(ui.role, Role::Companion);
        assert_eq!(ui.spec_hash, Some(companion.spec_hash()));
        assert_eq!(ui.labels[labels::MEMBER], "ui");
        assert_eq!((ui.state.clone(), ui.exit_code), (RunState::Created, None));
        let web = &listed[1];
        assert_eq!(web.role, Role::App);
        assert_eq!(web.image, IMAGE);
        assert_eq!(
            (web.state.clone(), web.exit_code),
            (RunState::Exited, Some(3))
        );
    }

    #[tokio::test]
    async fn create_needs_its_network_and_creates_named_volumes() {
        let mock = MockRuntime::new();
        mock.add_image(IMAGE);
        let mut spec = app_spec("web");
        spec.network = Some("archy".into());
        spec.mounts = vec![Mount {
            source: MountSource::Volume("web-data".into()),
            target: "/data".into(),
            read_only: false,
        }];
        assert!(mock.create(&spec).await.unwrap_err().is_not_found());
        mock.ensure_network("archy").await.unwrap();
        mock.ensure_network("archy").await.unwrap();
        assert!(mock.has_network("archy"));
        mock.create(&spec).await.unwrap();
        assert!(mock.has_volume("web-data"));

        let in_use = mock.remove_volume("web-data").await.unwrap_err();
        assert!(matches!(in_use, RuntimeError::InvalidState { .. }));
        mock.remove("web", false, true).await.unwrap();
        assert!(mock.has_volume("web-data"), "remove keeps named volumes");
        mock.remove_volume("web-data").await.unwrap();
        assert!(!mock.has_volume("web-data"));
        mock.remove_volume("web-data").await.unwrap();
    }

    #[tokio::test]
    async fn logs_return_the_last_lines() {
        let mock = engine_with_web().await;
        mock.push_logs("web", &["one", "two", "three"]);
        assert_eq!(mock.logs("web", 2).await.unwrap(), ["two", "three"]);
        assert_eq!(mock.logs("web", 10).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn exec_answers_the_configured_output_in_a_running_container() {
        let mock = engine_with_web().await;
        let cmd = ["true".to_string()];
        let refused = mock.exec("web", &cmd).await.unwrap_err();
        assert!(matches!(refused, RuntimeError::InvalidState { .. }));
        mock.start("web").await.unwrap();
        let ok = mock.exec("web", &cmd).await.unwrap();
        assert_eq!((ok.exit_code, ok.output.as_str()), (0, ""));
        let unhealthy = ExecOutput {
            exit_code: 4,
            output: "not synced".into(),
        };
        mock.set_exec_output("web", unhealthy.clone());
        assert_eq!(mock.exec("web", &cmd).await.unwrap(), unhealthy);
    }

    #[tokio::test]
    async fn build_stores_the_image_with_its_labels() {
        let mock = MockRuntime::new();
        let request = BuildRequest {
            context: "/tmp/ctx".into(),
            containerfile: "Containerfile".into(),
            tag: "localhost/archy-demo-web:local".into(),
            labels: BTreeMap::from([(labels::CONTEXT_HASH.into(), "abc".into())]),
        };
        let missing = mock.image_labels(&request.tag).await.unwrap_err();
        assert!(missing.is_not_found());
        mock.build(&request, None).await.unwrap();
        assert!(mock.image_present(&request.tag).await.unwrap());
        assert_eq!(
            mock.image_labels(&request.tag).await.unwrap(),
            request.labels
        );
    }

    #[tokio::test(start_paused = true)]
    async fn inspect_reports_state_and_times_on_tokio_time() {
        let mock = running_web().await;
        tokio::time::advance(Duration::from_secs(61)).await;
        mock.crash("web", 2);
        let details = mock.inspect("web").await.unwrap();
        assert_eq!(
            (details.state, details.exit_code),
            (RunState::Exited, Some(2))
        );
        assert!(!details.oom_killed);
        assert_eq!(
            details.started_at.as_deref(),
            Some("2026-02-01T00:00:00.000Z")
        );
        assert_eq!(
            details.finished_at.as_deref(),
            Some("2026-02-01T00:01:01.000Z")
        );
    }

    #[tokio::test]
    async fn a_clone_shares_the_engine_behind_a_shared_runtime() {
        let mock = MockRuntime::new();
        let shared: SharedRuntime = Arc::new(mock.clone());
        shared.pull(IMAGE, None).await.unwrap();
        assert!(mock.has_image(IMAGE));
        assert_eq!(mock.calls(Op::Pull), 1);
    }
}

mod image_faults {
    use super::*;

    #[tokio::test]
    async fn pulls_fail_the_given_number_of_times_then_succeed() {
        let mock = MockRuntime::new();
        mock.fail_pulls(IMAGE, 2);
        for _ in 0..2 {
            let failed = mock.pull(IMAGE, None).await.unwrap_err();
            assert!(matches!(failed, RuntimeError::ImageFailed { .. }));
            assert!(!mock.has_image(IMAGE));
        }
        mock.pull(IMAGE, None).await.unwrap();
        assert!(mock.image_present(IMAGE).await.unwrap());
    }

    #[tokio::test]
    async fn an_always_failing_pull_never_succeeds_until_cleared() {
        let mock = MockRuntime::new();
        mock.fail_pulls_always(IMAGE);
        for _ in 0..5 {
            assert!(mock.pull(IMAGE, None).await.is_err());
        }
        mock.clear_faults_for(IMAGE);
        mock.pull(IMAGE, None).await.unwrap();
        assert!(mock.has_image(IMAGE));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_pull_takes_exactly_its_delay_and_reports_progress() {
        let mock = MockRuntime::new();
        mock.slow_pull(IMAGE, Duration::from_secs(30));
        let (progress, mut lines) = tokio::sync::mpsc::unbounded_channel();
        let began = Instant::now();
        mock.pull(IMAGE, Some(progress)).await.unwrap();
        assert_eq!(began.elapsed(), Duration::from_secs(30));
        assert!(mock.has_image(IMAGE));
        assert!(lines.recv().await.unwrap().contains("started"));
        assert!(lines.recv().await.unwrap().contains("done"));
    }

    #[tokio::test]
    async fn a_vanishing_pull_succeeds_but_leaves_no_image() {
        let mock = MockRuntime::new();
        mock.vanish_after_pull(IMAGE);
        mock.pull(IMAGE, None).await.unwrap();
        assert!(!mock.image_present(IMAGE).await.unwrap());
        assert!(mock
            .create(&app_spec("web"))
            .await
            .unwrap_err()
            .is_not_found());
    }
}

mod container_faults {
    use super::*;

    #[tokio::test]
    async fn a_failing_start_returns_its_error_and_leaves_the_container_created() {
        let mock = engine_with_web().await;
        let error = RuntimeError::Engine {
            op: "start".into(),
            message: "OCI runtime error".into(),
        };
        mock.fail_start("web", error.clone());
        assert_eq!(mock.start("web").await.unwrap_err(), error);
        assert_eq!(state_of(&mock, "web"), (RunState::Created, None));
        mock.clear_faults_for("web");
        mock.start("web").await.unwrap();
        assert_eq!(state_of(&mock, "web"), (RunState::Running, None));
    }

    #[tokio::test]
    async fn exit_on_start_exits_with_its_code_a_die_event_and_a_log_line() {
        let mock = engine_with_web().await;
        mock.exit_on_start("web", 1);
        let mut events = mock.events().await.unwrap();
        mock.start("web").await.unwrap();
        assert_eq!(state_of(&mock, "web"), (RunState::Exited, Some(1)));
        assert_eq!(next_event(&mut events).await.kind, EngineEventKind::Start);
        assert_eq!(next_event(&mut events).await.kind, die(1));
        assert!(mock.logs("web", 1).await.unwrap()[0].contains("code 1"));
        mock.start("web").await.unwrap();
        assert_eq!(state_of(&mock, "web"), (RunState::Exited, Some(1)));
        assert_eq!(mock.container("web").unwrap().start_count, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn exit_on_start_after_a_delay_runs_for_exactly_that_long() {
        let mock = engine_with_web().await;
        mock.exit_on_start_after("web", 2, Duration::from_secs(10));
        let began = Instant::now();
        mock.start("web").await.unwrap();
        assert_eq!(state_of(&mock, "web"), (RunState::Running, None));
        within(mock.until_state("web", RunState::Exited)).await;
        assert_eq!(began.elapsed(), Duration::from_secs(10));
        assert_eq!(state_of(&mock, "web"), (RunState::Exited, Some(2)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_exit_does_not_hit_a_later_run() {
        let mock = engine_with_web().await;
        mock.exit_on_start_after("web", 2, Duration::from_secs(10));
        mock.start("web").await.unwrap();
        mock.stop("web", Duration::from_secs(1)).await.unwrap();
        mock.clear_faults_for("web");
        mock.start("web").await.unwrap();
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(state_of(&mock, "web"), (RunState::Running, None));
    }

    #[tokio::test(start_paused = true)]
    async fn stop_of_a_process_ignoring_sigterm_takes_exactly_the_grace() {
        let mock = running_web().await;
        mock.ignore_sigterm("web");
        let began = Instant::now();
        mock.stop("web", Duration::from_secs(10)).await.unwrap();
        assert_eq!(began.elapsed(), Duration::from_secs(10));
        assert_eq!(state_of(&mock, "web"), (RunState::Exited, Some(137)));
    }

    #[tokio::test(start_paused = true)]
    async fn stop_of_a_well_behaved_process_is_prompt_and_exits_zero() {
        let mock = running_web().await;
        let began = Instant::now();
        mock.stop("web", Duration::from_secs(10)).await.unwrap();
        assert_eq!(began.elapsed(), Duration::ZERO);
        assert_eq!(state_of(&mock, "web"), (RunState::Exited, Some(0)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_stop_waits_for_the_one_in_progress() {
        let mock = running_web().await;
        mock.ignore_sigterm("web");
        let first = tokio::spawn({
            let mock = mock.clone();
            async move { mock.stop("web", Duration::from_secs(10)).await }
        });
        within(mock.until_state("web", RunState::Stopping)).await;
        let began = Instant::now();
        mock.stop("web", Duration::from_secs(1)).await.unwrap();
        assert_eq!(state_of(&mock, "web"), (RunState::Exited, Some(137)));
        assert_eq!(began.elapsed(), Duration::from_secs(10));
        within(first).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn sigterm_to_a_process_that_ignores_it_changes_nothing() {
        let mock = running_web().await;
        mock.ignore_sigterm("web");
        mock.kill("web", "SIGTERM").await.unwrap();
        assert_eq!(state_of(&mock, "web"), (RunState::Running, None));
        mock.kill("web", "SIGKILL").await.unwrap();
        assert_eq!(state_of(&mock, "web"), (RunState::Exited, Some(137)));
    }

    #[tokio::test]
    async fn an_unavailable_engine_fails_every_call_until_it_recovers() {
        let mock = running_web().await;
        mock.set_unavailable(true);
        let down = |r: Result<(), RuntimeError>| {
            assert!(matches!(r, Err(RuntimeError::Unavailable { .. })), "{r:?}");
        };
        down(mock.ping().await);
        down(mock.list_managed().await.map(drop));
        down(mock.pull(IMAGE, None).await);
        down(mock.stop("web", Duration::ZERO).await);
        down(mock.events().await.map(drop));
        assert_eq!(state_of(&mock, "web"), (RunState::Running, None));
        mock.set_unavailable(false);
        mock.ping().await.unwrap();
        assert_eq!(mock.list_managed().await.unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_engine_going_away_ends_open_event_streams() {
        let mock = MockRuntime::new();
        let mut events = mock.events().await.unwrap();
        mock.set_unavailable(true);
        let end = timeout(Duration::from_secs(60), events.next()).await;
        assert!(matches!(end, Ok(None)), "the stream ends");
    }
}

mod held_calls {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_held_call_hangs_until_released() {
        let mock = engine_with_web().await;
        mock.hold(Op::Start);
        let start = tokio::spawn({
            let mock = mock.clone();
            async move { mock.start("web").await }
        });
        within(mock.until_called(Op::Start, 1)).await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!start.is_finished());
        assert_eq!(state_of(&mock, "web"), (RunState::Created, None));
        mock.release(Op::Start);
        within(start).await.unwrap().unwrap();
        assert_eq!(state_of(&mock, "web"), (RunState::Running, None));
        mock.stop("web", Duration::ZERO).await.unwrap();
        mock.start("web").await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn release_one_lets_exactly_one_call_through() {
        let mock = MockRuntime::new();
        mock.hold(Op::Ping);
        let pings: Vec<_> = (0..2)
            .map(|_| {
                let mock = mock.clone();
                tokio::spawn(async move { mock.ping().await })
            })
            .collect();
        within(mock.until_called(Op::Ping, 2)).await;
        mock.release_one(Op::Ping);
        let (first, _, held) = within(futures::future::select_all(pings)).await;
        first.unwrap().unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!held[0].is_finished());
        mock.release(Op::Ping);
        for ping in held {
            within(ping).await.unwrap().unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn holding_twice_keeps_one_gate_that_one_release_opens() {
        let mock = MockRuntime::new();
        mock.hold(Op::Ping);
        let ping = tokio::spawn({
            let mock = mock.clone();
            async move { mock.ping().await }
        });
        within(mock.until_called(Op::Ping, 1)).await;
        mock.hold(Op::Ping);
        mock.release(Op::Ping);
        within(ping).await.unwrap().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_stop_times_out_after_grace_plus_margin() {
        let mock = running_web().await;
        mock.hold(Op::Stop);
        let grace = Duration::from_secs(5);
        let began = Instant::now();
        let timed_out = mock.stop("web", grace).await.unwrap_err();
        assert_eq!(began.elapsed(), grace + STOP_DEADLINE_MARGIN);
        assert!(matches!(timed_out, RuntimeError::Timeout { .. }));
        assert!(timed_out.is_retryable());
    }
}

mod external_actions {
    use super::*;

    #[tokio::test]
    async fn crash_kills_a_running_container_with_a_die_event() {
        let mock = running_web().await;
        let mut events = mock.events().await.unwrap();
        assert!(mock.crash("web", 139));
        assert_eq!(state_of(&mock, "web"), (RunState::Exited, Some(139)));
        let event = next_event(&mut events).await;
        assert_eq!(event.container, "web");
        assert_eq!(event.app.as_deref(), Some("demo"));
        assert_eq!(event.role, Role::App);
        assert_eq!(event.kind, die(139));
        assert!(!mock.crash("web", 1), "an exited container cannot crash");
        assert!(!mock.crash("nobody", 1));
    }

    #[tokio::test]
    async fn oom_kills_with_137_an_oom_event_and_the_flag() {
        let mock = running_web().await;
        let mut events = mock.events().await.unwrap();
        assert!(mock.oom("web"));
        assert_eq!(next_event(&mut events).await.kind, EngineEventKind::Oom);
        assert_eq!(next_event(&mut events).await.kind, die(137));
        let details = mock.inspect("web").await.unwrap();
        assert!(details.oom_killed);
        assert_eq!(details.exit_code, Some(137));
        mock.start("web").await.unwrap();
        assert!(!mock.inspect("web").await.unwrap().oom_killed);
    }

    #[tokio::test]
    async fn removing_externally_makes_the_container_vanish() {
        let mock = running_web().await;
        let mut events = mock.events().await.unwrap();
        assert!(mock.remove_externally("web"));
        assert_eq!(next_event(&mut events).await.kind, die(137));
        assert!(mock.list_managed().await.unwrap().is_empty());
        assert!(mock.inspect("web").await.unwrap_err().is_not_found());
        assert!(!mock.remove_externally("web"));
    }

    #[tokio::test(start_paused = true)]
    async fn until_removed_returns_once_the_container_is_gone() {
        let mock = running_web().await;
        let remover = tokio::spawn({
            let mock = mock.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                mock.remove_externally("web")
            }
        });
        let began = Instant::now();
        within(mock.until_removed("web")).await;
        assert_eq!(began.elapsed(), Duration::from_secs(5));
        assert!(remover.await.unwrap());
    }

    #[tokio::test]
    async fn set_state_changes_the_list_without_an_event() {
        let mock = running_web().await;
        mock.create(&app_spec("db")).await.unwrap();
        let mut events = mock.events().await.unwrap();
        assert!(mock.set_state("web", RunState::Exited, Some(0)));
        mock.start("db").await.unwrap();
        let first = next_event(&mut events).await;
        assert_eq!(
            (first.container.as_str(), first.kind),
            ("db", EngineEventKind::Start)
        );
        let web = mock.list_managed().await.unwrap().remove(1);
        assert_eq!((web.state, web.exit_code), (RunState::Exited, Some(0)));
    }

    #[tokio::test]
    async fn unmanaged_containers_send_no_events() {
        let mock = engine_with_web().await;
        let unmanaged = ContainerSpec {
            name: "other".into(),
            image: IMAGE.into(),
            ..Default::default()
        };
        mock.create(&unmanaged).await.unwrap();
        let mut events = mock.events().await.unwrap();
        mock.start("other").await.unwrap();
        mock.crash("other", 1);
        mock.start("web").await.unwrap();
        let first = next_event(&mut events).await;
        assert_eq!(
            (first.container.as_str(), first.kind),
            ("web", EngineEventKind::Start)
        );
    }
}

mod call_counters {
    use super::*;

    #[tokio::test]
    async fn every_call_counts_once_under_its_op_until_reset() {
        let mock = engine_with_web().await;
        assert_eq!(mock.calls(Op::Create), 1);
        mock.start("web").await.unwrap();
        mock.list_managed().await.unwrap();
        mock.list_managed().await.unwrap();
        let _ = mock.start("missing").await;
        assert_eq!(mock.calls(Op::Start), 2, "failed calls count too");
        assert_eq!(mock.calls(Op::ListManaged), 2);
        assert_eq!(mock.calls(Op::Stop), 0);
        assert_eq!(mock.total_calls(), 5);
        mock.reset_calls();
        assert_eq!(mock.total_calls(), 0);
        mock.stop("web", Duration::ZERO).await.unwrap();
        assert_eq!((mock.calls(Op::Stop), mock.total_calls()), (1, 1));
    }

    #[tokio::test]
    async fn test_helpers_are_not_engine_calls() {
        let mock = running_web().await;
        mock.reset_calls();
        mock.crash("web", 1);
        mock.container("web");
        mock.add_image("x");
        mock.push_logs("web", &["x"]);
        assert_eq!(mock.total_calls(), 0);
    }
}
