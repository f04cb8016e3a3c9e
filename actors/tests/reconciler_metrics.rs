//! The reconciler's Prometheus series, rendered by the daemon's own
//! recorder (`archy_runtime::metrics::install`) with its buckets. Its own test binary: it installs the
//! process-wide recorder.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use archy_actors::reconciler::{Reconciler, ReconcilerArgs, ReconcilerConfig, ReconcilerMsg};
use archy_actors::status::StatusBoard;
use archy_actors::store::DesiredStore;
use archy_apps::Tier;
use archy_runtime::mock::{MockRuntime, Op};
use archy_runtime::{labels, ContainerRuntime, ContainerSpec};
use ractor::Actor;

#[tokio::test(start_paused = true)]
async fn passes_and_events_are_exported_with_help_and_explicit_buckets() {
    let prometheus = archy_runtime::metrics::install().expect("the daemon's recorder");
    let mock = MockRuntime::new();
    let args = ReconcilerArgs {
        runtime: Arc::new(mock.clone()),
        board: StatusBoard::new(),
        desired: DesiredStore::new(Path::new("/nonexistent/apps")),
        tier_of: Arc::new(|_: &str| Tier::App),
        config: ReconcilerConfig::every(Duration::from_secs(30)),
    };
    let (reconciler, _) = Actor::spawn(None, Reconciler, args).await.unwrap();
    mock.until_called(Op::Events, 1).await;

    Reconciler::reconcile(&reconciler).await.unwrap();
    mock.hold(Op::ListManaged);
    reconciler.cast(ReconcilerMsg::Tick).unwrap();
    mock.until_called(Op::ListManaged, 2).await;
    reconciler.cast(ReconcilerMsg::Tick).unwrap();
    mock.add_image("img");
    let spec = ContainerSpec {
        name: "archy-m".into(),
        image: "img".into(),
        labels: [(labels::APP.to_string(), "m".to_string())].into(),
        ..ContainerSpec::default()
    };
    mock.create(&spec).await.unwrap();
    mock.start("archy-m").await.unwrap();
    assert!(mock.crash("archy-m", 1));
    // Answered after both ticks; the event watcher, woken first, has run.
    let stats = ractor::call!(reconciler, ReconcilerMsg::Stats).unwrap();
    assert_eq!(stats.skipped, 1);

    let text = prometheus.render();
    for line in [
        "# HELP archy_reconcile_duration_seconds ",
        "archy_reconcile_duration_seconds_bucket{le=\"0.005\"} 1",
        "archy_reconcile_duration_seconds_bucket{le=\"60\"} 1",
        "# HELP archy_reconcile_last_success_timestamp_seconds ",
        "\narchy_reconcile_last_success_timestamp_seconds ",
        "# HELP archy_reconcile_passes_total ",
        "archy_reconcile_passes_total{result=\"success\"} 1",
        "archy_reconcile_passes_total{result=\"skipped\"} 1",
        "archy_reconcile_passes_total{result=\"error\"} 0",
        "# HELP archy_engine_events_total ",
        "archy_engine_events_total{kind=\"start\"} 1",
        "archy_engine_events_total{kind=\"die\"} 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    reconciler.stop(None);
}
