//! [`ContainerRuntime`] for [`MockRuntime`]: each call acts on the state
//! under one short lock; waits (slow pulls, ignored SIGTERM) happen outside it.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::state::{invalid_state, SIGKILL_EXIT};
use super::{MockRuntime, Op};
use crate::{
    BuildRequest, ContainerDetails, ContainerRuntime, ContainerSpec, EngineEvent, ExecOutput,
    Observed, ProgressSink, RunState, RuntimeError, RuntimeResult, STOP_DEADLINE_MARGIN,
};

/// How a stop call proceeds once it has looked at the container.
enum StopPlan {
    Done,
    /// This call sent SIGTERM to a process that ignores it.
    KillAfterGrace,
    /// Another stop is in progress: wait for it, as Podman does.
    AwaitOther,
}

impl MockRuntime {
    /// A pull or a build: one attempt at putting `image` in local storage.
    async fn acquire_image(
        &self,
        op: Op,
        image: &str,
        labels: BTreeMap<String, String>,
        progress: ProgressSink,
    ) -> RuntimeResult<()> {
        self.enter(op).await?;
        let report = |line: String| {
            if let Some(sink) = &progress {
                // A caller that stopped listening does not stop the pull.
                let _ = sink.send(line);
            }
        };
        report(format!("{op:?} {image}: started"));
        let fault = self.state().faults.images.get(image).cloned();
        let delay = fault.as_ref().map_or(Duration::ZERO, |f| f.delay);
        tokio::time::sleep(delay).await;
        self.mutate(|s| {
            s.check_available()?;
            let Some(fault) = s.faults.images.get_mut(image) else {
                s.images.insert(image.to_string(), labels);
                return Ok(());
            };
            if fault.failures.take() {
                return Err(RuntimeError::ImageFailed {
                    image: image.to_string(),
                    reason: format!("{op:?} failed (injected by the mock)"),
                });
            }
            if !fault.vanishes {
                s.images.insert(image.to_string(), labels);
            }
            Ok(())
        })?;
        report(format!("{op:?} {image}: done"));
        Ok(())
    }

    async fn stop_within_deadline(&self, name: &str, grace: Duration) -> RuntimeResult<()> {
        self.enter(Op::Stop).await?;
        let plan = self.mutate(|s| {
            let ignores_term = s.faults.ignore_sigterm.contains(name);
            let container = s.container_mut(name)?;
            Ok::<_, RuntimeError>(match container.state {
                RunState::Running if ignores_term => {
                    container.state = RunState::Stopping;
                    StopPlan::KillAfterGrace
                }
                RunState::Running => {
                    s.die(name, 0);
                    StopPlan::Done
                }
                RunState::Stopping => StopPlan::AwaitOther,
                _ => StopPlan::Done,
            })
        })?;
        match plan {
            StopPlan::Done => {}
            StopPlan::KillAfterGrace => {
                tokio::time::sleep(grace).await;
                self.mutate(|s| {
                    // A kill or removal meanwhile has already ended it.
                    if s.containers.get(name).map(|c| &c.state) == Some(&RunState::Stopping) {
                        s.die(name, SIGKILL_EXIT);
                    }
                });
            }
            StopPlan::AwaitOther => {
                self.wait_for(|s| {
                    s.containers
                        .get(name)
                        .is_none_or(|c| c.state != RunState::Stopping)
                })
                .await
            }
        }
        Ok(())
    }
}

/// Exit code of a process ended by `signal` (128 + number), or None for a
/// signal the mock does not know.
fn signal_exit_code(signal: &str) -> Option<i64> {
    let number = match signal.trim_start_matches("SIG") {
        "HUP" | "1" => 1,
        "INT" | "2" => 2,
        "QUIT" | "3" => 3,
        "KILL" | "9" => 9,
        "TERM" | "15" => 15,
        _ => return None,
    };
    Some(128 + number)
}

#[async_trait]
impl ContainerRuntime for MockRuntime {
    async fn ping(&self) -> RuntimeResult<()> {
        self.enter(Op::Ping).await
    }

    async fn list_managed(&self) -> RuntimeResult<Vec<Observed>> {
        self.enter(Op::ListManaged).await?;
        Ok(self.state().observed())
    }

    async fn image_present(&self, image: &str) -> RuntimeResult<bool> {
        self.enter(Op::ImagePresent).await?;
        Ok(self.state().images.contains_key(image))
    }

    async fn pull(&self, image: &str, progress: ProgressSink) -> RuntimeResult<()> {
        self.acquire_image(Op::Pull, image, BTreeMap::new(), progress)
            .await
    }

    async fn build(&self, request: &BuildRequest, progress: ProgressSink) -> RuntimeResult<()> {
        let labels = request.labels.clone();
        self.acquire_image(Op::Build, &request.tag, labels, progress)
            .await
    }

    async fn image_labels(&self, image: &str) -> RuntimeResult<BTreeMap<String, String>> {
        self.enter(Op::ImageLabels).await?;
        let state = self.state();
        let labels = state
            .images
            .get(image)
            .ok_or_else(|| RuntimeError::NotFound {
                what: format!("image {image}"),
            })?;
        Ok(labels.clone())
    }

    async fn create(&self, spec: &ContainerSpec) -> RuntimeResult<String> {
        self.enter(Op::Create).await?;
        self.mutate(|s| s.create(spec))
    }

    async fn start(&self, name: &str) -> RuntimeResult<()> {
        self.enter(Op::Start).await?;
        if let Some(exit) = self.mutate(|s| s.start(name))? {
            let engine = self.clone();
            let name = name.to_string();
            tokio::spawn(async move {
                tokio::time::sleep(exit.after).await;
                engine.mutate(|s| s.exit_run(&name, exit.run, exit.code));
            });
        }
        Ok(())
    }

    async fn stop(&self, name: &str, grace: Duration) -> RuntimeResult<()> {
        let deadline = grace + STOP_DEADLINE_MARGIN;
        tokio::time::timeout(deadline, self.stop_within_deadline(name, grace))
            .await
            .map_err(|_| RuntimeError::Timeout {
                op: "stop".into(),
                after: deadline,
            })?
    }

    async fn kill(&self, name: &str, signal: &str) -> RuntimeResult<()> {
        self.enter(Op::Kill).await?;
        self.mutate(|s| {
            let ignored = s.faults.ignore_sigterm.contains(name);
            let container = s.container(name)?;
            if !container.is_alive() {
                return Err(invalid_state(name, "kill", &container.state));
            }
            let code = signal_exit_code(signal).ok_or_else(|| RuntimeError::BadRequest {
                op: "kill".into(),
                message: format!("unknown signal {signal:?}"),
            })?;
            let terminates = !(ignored && code == 128 + 15);
            if terminates {
                s.die(name, code);
            }
            Ok(())
        })
    }

    async fn remove(&self, name: &str, force: bool, _volumes: bool) -> RuntimeResult<()> {
        // The mock models no anonymous volumes, so `volumes` has nothing to do.
        self.enter(Op::Remove).await?;
        self.mutate(|s| {
            let container = s.container(name)?;
            if container.is_alive() {
                if !force {
                    return Err(invalid_state(name, "remove", &container.state));
                }
                s.die(name, SIGKILL_EXIT);
            }
            s.containers.remove(name);
            Ok(())
        })
    }

    async fn inspect(&self, name: &str) -> RuntimeResult<ContainerDetails> {
        self.enter(Op::Inspect).await?;
        self.state().details(name)
    }

    async fn logs(&self, name: &str, tail: usize) -> RuntimeResult<Vec<String>> {
        self.enter(Op::Logs).await?;
        let state = self.state();
        let logs = &state.container(name)?.logs;
        Ok(logs[logs.len().saturating_sub(tail)..].to_vec())
    }

    async fn exec(&self, name: &str, _cmd: &[String]) -> RuntimeResult<ExecOutput> {
        self.enter(Op::Exec).await?;
        let state = self.state();
        let container = state.container(name)?;
        if container.state != RunState::Running {
            return Err(invalid_state(name, "exec", &container.state));
        }
        Ok(state.faults.exec.get(name).cloned().unwrap_or(ExecOutput {
            exit_code: 0,
            output: String::new(),
        }))
    }

    async fn ensure_network(&self, name: &str) -> RuntimeResult<()> {
        self.enter(Op::EnsureNetwork).await?;
        self.mutate(|s| s.networks.insert(name.to_string()));
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> RuntimeResult<()> {
        self.enter(Op::RemoveVolume).await?;
        self.mutate(|s| {
            let user = s.containers.values().find(|c| {
                c.spec
                    .mounts
                    .iter()
                    .any(|m| m.source == crate::MountSource::Volume(name.to_string()))
            });
            if let Some(user) = user {
                return Err(RuntimeError::InvalidState {
                    name: name.to_string(),
                    op: "remove volume".into(),
                    message: format!("volume is in use by container {}", user.spec.name),
                });
            }
            s.volumes.remove(name);
            Ok(())
        })
    }

    async fn events(&self) -> RuntimeResult<BoxStream<'static, RuntimeResult<EngineEvent>>> {
        self.enter(Op::Events).await?;
        let receiver = self.state().events.subscribe();
        let stream = futures::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => return Some((Ok(event), receiver)),
                    // A lagging reader loses events, as after a reconnect;
                    // the periodic list is the safety net.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        });
        Ok(stream.boxed())
    }
}
