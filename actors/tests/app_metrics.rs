//! The app actor records pull retries, install durations and container
//! restarts. Its own test binary: it installs the process-wide recorder.

mod app_support;

use app_support::*;
use archy_actors::app::{AppMsg, AppState};
use archy_runtime::metrics::{CONTAINER_RESTARTS, INSTALL_DURATION, PULL_RETRIES};
use metrics::{SharedString, Unit};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::CompositeKey;

/// The series `name` with exactly these label values, in one snapshot
/// (taking a snapshot drains the histograms).
fn value<'a>(snapshot: &'a [Sample], name: &str, labels: &[&str]) -> Option<&'a DebugValue> {
    snapshot
        .iter()
        .find(|(key, ..)| {
            let key = key.key();
            let values: Vec<_> = key.labels().map(|l| l.value()).collect();
            key.name() == name && values == labels
        })
        .map(|(.., value)| value)
}

type Sample = (CompositeKey, Option<Unit>, Option<SharedString>, DebugValue);

#[tokio::test(start_paused = true)]
async fn retried_pulls_install_time_and_container_restarts_are_recorded() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("first recorder in this binary");
    let h = Harness::new();
    let m = single(&h, "flaky");
    let image = image_of("flaky");
    h.mock.remove_image(&image).fail_pulls(&image, 2);
    let actor = h.spawn(&m).await;
    install(&actor, "flaky").await.unwrap();

    let snapshot = snapshotter.snapshot().into_vec();
    assert_eq!(
        value(&snapshot, PULL_RETRIES.name, &[]),
        Some(&DebugValue::Counter(2))
    );
    let Some(DebugValue::Histogram(installs)) = value(&snapshot, INSTALL_DURATION.name, &[]) else {
        panic!("no install duration recorded");
    };
    assert_eq!(installs.len(), 1);
    // Two pull backoffs (5 s + 15 s) plus the 5 s verify window, on paused time.
    assert!(installs[0].into_inner() >= 25.0, "{installs:?}");
    assert_eq!(value(&snapshot, CONTAINER_RESTARTS.name, &["flaky"]), None);

    actor
        .cast(AppMsg::HealthChanged {
            healthy: false,
            reason: "probe failed".into(),
        })
        .unwrap();
    assert_eq!(status(&actor).await.state, AppState::Restarting);
    h.until("flaky", |s| *s == AppState::Running).await;
    let snapshot = snapshotter.snapshot().into_vec();
    assert_eq!(
        value(&snapshot, CONTAINER_RESTARTS.name, &["flaky"]),
        Some(&DebugValue::Counter(1))
    );
}
