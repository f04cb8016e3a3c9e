//! Restarts are exported as `archy_actor_restarts_total{actor_kind}`.
//! Its own test binary: it installs the process-wide metrics recorder.

mod supervisor_probe;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use archy_actors::supervisor::{ChildSpec, Intensity, Strategy, Supervisor, SupervisorArgs};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use supervisor_probe::*;

/// Counters by name and labels, e.g. `archy_actor_restarts_total{actor_kind=app}`.
#[derive(Default, Clone)]
struct Counters(Arc<Mutex<HashMap<String, Arc<AtomicU64>>>>);

impl Counters {
    fn get(&self, key: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .get(key)
            .map_or(0, |counter| counter.load(Ordering::SeqCst))
    }
}

impl Recorder for Counters {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let labels: Vec<String> = key
            .labels()
            .map(|label| format!("{}={}", label.key(), label.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        Counter::from_arc(self.0.lock().unwrap().entry(name).or_default().clone())
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[tokio::test(start_paused = true)]
async fn every_restart_increments_the_restart_counter_of_its_actor_kind() {
    let counters = Counters::default();
    metrics::set_global_recorder(counters.clone()).expect("first recorder in this binary");
    let mut journal = Journal::new();
    let inner = SupervisorArgs {
        strategy: Strategy::OneForOne,
        intensity: Intensity {
            max_restarts: 0,
            ..Intensity::default()
        },
        children: vec![probe("leaf", &journal)],
    };
    let root = SupervisorArgs {
        strategy: Strategy::OneForOne,
        intensity: Intensity {
            max_restarts: 10,
            ..Intensity::default()
        },
        children: vec![
            probe("app", &journal),
            ChildSpec::supervisor("inner", None, inner),
        ],
    };
    let (root, _) = Supervisor::start(None, root).await.unwrap();
    journal.expect(&["start:app", "start:leaf"]).await;

    tell(&child(&root, "app").await, ProbeMsg::Panic);
    journal.expect(&["start:app"]).await;
    tell(&child(&root, "app").await, ProbeMsg::Fail);
    journal.expect(&["start:app"]).await;
    let inner = child(&root, "inner").await.into();
    tell(&child(&inner, "leaf").await, ProbeMsg::Panic);
    journal.expect(&["start:leaf"]).await;
    // That line comes from inside the root's restart of `inner`: a request
    // the root answers afterwards means the restart has been counted.
    child(&root, "inner").await;

    assert_eq!(
        counters.get("archy_actor_restarts_total{actor_kind=app}"),
        2
    );
    assert_eq!(
        counters.get("archy_actor_restarts_total{actor_kind=supervisor}"),
        1
    );
}
