//! Pull and build plumbing: draining an engine progress stream within a
//! deadline, and sending a build context as a tar.

use std::path::Path;

use bollard::errors::Error as BollardError;
use futures::{Stream, TryStreamExt};

use super::classify::{classify, Call};
use crate::{ProgressSink, RuntimeError, RuntimeResult};

/// Drain a pull/build stream into the progress sink within `deadline`.
pub(crate) async fn drain_progress<S, T>(
    stream: S,
    call: Call<'_>,
    progress: &ProgressSink,
    line: impl Fn(&T) -> Option<String>,
) -> RuntimeResult<()>
where
    S: Stream<Item = Result<T, BollardError>>,
{
    let drain = stream.map_err(|e| classify(call, e)).try_for_each(|item| {
        if let (Some(sink), Some(text)) = (progress, line(&item)) {
            // A progress reader that went away does not fail the pull.
            let _ = sink.send(text);
        }
        futures::future::ready(Ok(()))
    });
    tokio::time::timeout(call.deadline, drain)
        .await
        .map_err(|_| classify(call, BollardError::RequestTimeoutError))?
}

/// The context directory as an in-memory tar, for `/build`.
pub(crate) async fn tar_context(context: &Path) -> RuntimeResult<Vec<u8>> {
    let dir = context.to_path_buf();
    let image_failed = |reason: String| RuntimeError::ImageFailed {
        image: dir.display().to_string(),
        reason,
    };
    let job = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut archive = tar::Builder::new(Vec::new());
            archive.follow_symlinks(false);
            archive.append_dir_all(".", &dir)?;
            archive.into_inner()
        })
    };
    match job.await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(image_failed(format!("cannot tar the build context: {e}"))),
        Err(e) => Err(image_failed(format!(
            "tarring the build context failed: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::stream;

    use super::*;

    fn pull(deadline: Duration) -> Call<'static> {
        Call::new("pull", "image", "localhost/app:1", deadline)
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_stream_times_out_at_its_deadline() {
        let deadline = Duration::from_secs(30 * 60);
        let started = tokio::time::Instant::now();
        let stalled = stream::pending::<Result<String, BollardError>>();
        let err = drain_progress(stalled, pull(deadline), &None, |s| Some(s.clone()))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            RuntimeError::Timeout {
                op: "pull".into(),
                after: deadline
            }
        );
        assert_eq!(started.elapsed(), deadline);
    }

    #[tokio::test]
    async fn progress_lines_reach_the_sink_and_a_stream_error_fails_the_image() {
        let (sink, mut lines) = tokio::sync::mpsc::unbounded_channel();
        let items = stream::iter(vec![
            Ok("Pulling fs layer".to_string()),
            Err(BollardError::DockerStreamError {
                error: "manifest unknown".into(),
            }),
            Ok("never read".to_string()),
        ]);
        let err = drain_progress(items, pull(Duration::from_secs(5)), &Some(sink), |s| {
            Some(s.clone())
        })
        .await
        .unwrap_err();
        assert!(
            matches!(err, RuntimeError::ImageFailed { reason, .. } if reason == "manifest unknown")
        );
        assert_eq!(lines.try_recv().unwrap(), "Pulling fs layer");
        assert!(lines.try_recv().is_err(), "nothing after the error");
    }

    #[tokio::test]
    async fn build_context_is_tarred_with_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Containerfile"), "FROM scratch\n").unwrap();
        std::fs::create_dir(dir.path().join("files")).unwrap();
        std::fs::write(dir.path().join("files/a.txt"), "a").unwrap();
        let bytes = tar_context(dir.path()).await.unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(
            names.iter().any(|n| n.ends_with("Containerfile")),
            "{names:?}"
        );
        assert!(
            names.iter().any(|n| n.ends_with("files/a.txt")),
            "{names:?}"
        );
        assert!(names.iter().all(|n| !n.starts_with('/')), "{names:?}");
    }
}
