//! A task owned by an actor's state: aborted when the owner drops it, so an
//! actor that panics or stops leaves no orphan operation or timer behind.

use tokio::task::JoinHandle;

#[derive(Debug)]
pub struct OwnedTask(JoinHandle<()>);

impl OwnedTask {
    pub fn spawn(work: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        OwnedTask(tokio::spawn(work))
    }
}

impl Drop for OwnedTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn dropping_the_owner_aborts_the_task() {
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let task = OwnedTask::spawn(async move {
            tokio::time::sleep(Duration::from_secs(600)).await;
            let _ = tx.send(());
        });
        drop(task);
        // The sender is dropped by the abort, not sent on.
        assert!(rx.try_recv().is_err());
        assert!(matches!(
            (&mut rx).await,
            Err(tokio::sync::oneshot::error::RecvError { .. })
        ));
    }
}
