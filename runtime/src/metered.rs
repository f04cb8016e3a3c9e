//! [`MeteredRuntime`]: any engine, with every call counted and timed under
//! its fixed operation name (`archy_engine_requests_total{operation,result}`,
//! `archy_engine_request_duration_seconds{operation}`).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::BoxStream;
use metrics::{counter, histogram};

use crate::metrics::{ENGINE_REQUESTS, ENGINE_REQUEST_DURATION};
use crate::{
    BuildRequest, ContainerDetails, ContainerRuntime, ContainerSpec, EngineEvent, ExecOutput,
    Observed, Op, ProgressSink, RuntimeResult, SharedRuntime,
};

/// Wraps an engine; behaves exactly like it, plus metrics.
pub struct MeteredRuntime {
    inner: SharedRuntime,
}

impl MeteredRuntime {
    /// Every operation's counters start at 0, so `rate()` and `increase()`
    /// see the first call.
    pub fn new(inner: SharedRuntime) -> Self {
        for op in Op::ALL {
            for result in ["ok", "error"] {
                counter!(ENGINE_REQUESTS.name, "operation" => op.as_str(), "result" => result)
                    .increment(0);
            }
        }
        Self { inner }
    }

    async fn metered<T>(
        &self,
        op: Op,
        call: impl Future<Output = RuntimeResult<T>>,
    ) -> RuntimeResult<T> {
        let started = Instant::now();
        let outcome = call.await;
        let result = if outcome.is_ok() { "ok" } else { "error" };
        counter!(ENGINE_REQUESTS.name, "operation" => op.as_str(), "result" => result).increment(1);
        histogram!(ENGINE_REQUEST_DURATION.name, "operation" => op.as_str())
            .record(started.elapsed());
        outcome
    }
}

#[async_trait]
impl ContainerRuntime for MeteredRuntime {
    async fn ping(&self) -> RuntimeResult<()> {
        self.metered(Op::Ping, self.inner.ping()).await
    }

    async fn list_managed(&self) -> RuntimeResult<Vec<Observed>> {
        self.metered(Op::ListManaged, self.inner.list_managed())
            .await
    }

    async fn image_present(&self, image: &str) -> RuntimeResult<bool> {
        self.metered(Op::ImagePresent, self.inner.image_present(image))
            .await
    }

    async fn pull(&self, image: &str, progress: ProgressSink) -> RuntimeResult<()> {
        self.metered(Op::Pull, self.inner.pull(image, progress))
            .await
    }

    async fn build(&self, request: &BuildRequest, progress: ProgressSink) -> RuntimeResult<()> {
        self.metered(Op::Build, self.inner.build(request, progress))
            .await
    }

    async fn image_labels(&self, image: &str) -> RuntimeResult<BTreeMap<String, String>> {
        self.metered(Op::ImageLabels, self.inner.image_labels(image))
            .await
    }

    async fn create(&self, spec: &ContainerSpec) -> RuntimeResult<String> {
        self.metered(Op::Create, self.inner.create(spec)).await
    }

    async fn start(&self, name: &str) -> RuntimeResult<()> {
        self.metered(Op::Start, self.inner.start(name)).await
    }

    async fn stop(&self, name: &str, grace: Duration) -> RuntimeResult<()> {
        self.metered(Op::Stop, self.inner.stop(name, grace)).await
    }

    async fn kill(&self, name: &str, signal: &str) -> RuntimeResult<()> {
        self.metered(Op::Kill, self.inner.kill(name, signal)).await
    }

    async fn remove(&self, name: &str, force: bool, volumes: bool) -> RuntimeResult<()> {
        self.metered(Op::Remove, self.inner.remove(name, force, volumes))
            .await
    }

    async fn inspect(&self, name: &str) -> RuntimeResult<ContainerDetails> {
        self.metered(Op::Inspect, self.inner.inspect(name)).await
    }

    async fn logs(&self, name: &str, tail: usize) -> RuntimeResult<Vec<String>> {
        self.metered(Op::Logs, self.inner.logs(name, tail)).await
    }

    async fn exec(&self, name: &str, cmd: &[String]) -> RuntimeResult<ExecOutput> {
        self.metered(Op::Exec, self.inner.exec(name, cmd)).await
    }

    async fn ensure_network(&self, name: &str) -> RuntimeResult<()> {
        self.metered(Op::EnsureNetwork, self.inner.ensure_network(name))
            .await
    }

    async fn remove_volume(&self, name: &str) -> RuntimeResult<()> {
        self.metered(Op::RemoveVolume, self.inner.remove_volume(name))
            .await
    }

    /// Counts opening the stream, not the events it carries (the reconciler
    /// counts those as `archy_engine_events_total`).
    async fn events(&self) -> RuntimeResult<BoxStream<'static, RuntimeResult<EngineEvent>>> {
        self.metered(Op::Events, self.inner.events()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::MockRuntime;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use std::sync::Arc;

    #[tokio::test]
    async fn each_call_is_counted_by_operation_and_result_and_timed() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let mock = MockRuntime::new();
        mock.add_image("img");
        let _guard = metrics::set_default_local_recorder(&recorder);
        let metered = MeteredRuntime::new(Arc::new(mock.clone()));

        assert!(metered.image_present("img").await.unwrap());
        assert!(metered.inspect("nope").await.is_err());
        assert!(metered.inspect("nope").await.is_err());

        let mut seen = BTreeMap::new();
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let key = key.key();
            let labels: Vec<_> = key.labels().map(|l| l.value().to_string()).collect();
            seen.insert(format!("{}{:?}", key.name(), labels), value);
        }
        let count = |op: &str, result: &str| match &seen
            [&format!("archy_engine_requests_total[\"{op}\", \"{result}\"]")]
        {
            DebugValue::Counter(n) => *n,
            other => panic!("{other:?}"),
        };
        assert_eq!(count("image_present", "ok"), 1);
        assert_eq!(count("inspect", "error"), 2);
        assert_eq!(count("inspect", "ok"), 0);
        assert_eq!(count("pull", "ok"), 0, "every operation starts at 0");
        match &seen["archy_engine_request_duration_seconds[\"inspect\"]"] {
            DebugValue::Histogram(samples) => assert_eq!(samples.len(), 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            mock.calls(crate::Op::Inspect),
            2,
            "the engine saw each call"
        );
    }
}
