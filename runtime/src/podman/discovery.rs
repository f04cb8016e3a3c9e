//! Finding the engine socket: the first candidate that answers a ping wins.
//!
//! Order: explicit config or `ARCHY_ENGINE` → `CONTAINER_HOST` (unix://) →
//! `DOCKER_HOST` (unix://) → `$XDG_RUNTIME_DIR/podman/podman.sock` →
//! `/run/user/$UID/podman/podman.sock` → `/run/podman/podman.sock`.
//! bollard's `connect_with_podman_defaults` is not enough: it skips
//! `CONTAINER_HOST` and falls back to Docker's socket.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::{Docker, API_DEFAULT_VERSION};
use thiserror::Error;

/// Explicit engine socket: a path or a `unix://` URL.
pub const ENGINE_ENV: &str = "ARCHY_ENGINE";
/// Podman's own variable for the socket it serves.
pub const CONTAINER_HOST_ENV: &str = "CONTAINER_HOST";
/// Docker's variable, honoured when it names a unix socket.
pub const DOCKER_HOST_ENV: &str = "DOCKER_HOST";
/// The rootful Podman socket.
pub const ROOTFUL_SOCKET: &str = "/run/podman/podman.sock";

/// How long one candidate gets to answer `/_ping` (0.5 ms when healthy).
/// bollard counts timeouts in whole seconds.
pub const PING_DEADLINE: Duration = Duration::from_secs(2);

/// No candidate socket answered.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error(
    "no container engine answered; tried {}. Start Podman's API socket \
     (`systemctl --user enable --now podman.socket`, or `podman system service --time=0`) \
     or point {ENGINE_ENV} at it",
    describe(.tried)
)]
pub struct NoEngine {
    /// Each socket tried, with why it did not answer.
    pub tried: Vec<(PathBuf, String)>,
}

fn describe(tried: &[(PathBuf, String)]) -> String {
    if tried.is_empty() {
        return "no candidates".into();
    }
    tried
        .iter()
        .map(|(path, why)| format!("{} ({why})", path.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<NoEngine> for crate::RuntimeError {
    fn from(err: NoEngine) -> Self {
        crate::RuntimeError::Unavailable {
            reason: err.to_string(),
        }
    }
}

/// The sockets to try, in order, from `explicit`, this process's
/// environment and user id. Duplicates are dropped.
pub fn candidate_sockets(explicit: Option<&Path>) -> Vec<PathBuf> {
    candidates(explicit, |key| std::env::var(key).ok(), current_uid())
}

/// The first candidate that answers a ping, logged; else every attempt.
pub async fn find_engine(explicit: Option<&Path>) -> Result<PathBuf, NoEngine> {
    first_answering(candidate_sockets(explicit)).await
}

/// The first of `sockets` that answers a ping.
pub async fn first_answering(sockets: Vec<PathBuf>) -> Result<PathBuf, NoEngine> {
    let mut tried = Vec::new();
    for socket in sockets {
        match ping(&socket, PING_DEADLINE).await {
            Ok(()) => {
                tracing::info!(socket = %socket.display(), "container engine found");
                return Ok(socket);
            }
            Err(why) => {
                tracing::debug!(socket = %socket.display(), %why, "no engine here");
                tried.push((socket, why));
            }
        }
    }
    Err(NoEngine { tried })
}

/// Whether an engine answers `/_ping` on `socket` within `deadline`.
pub async fn ping(socket: &Path, deadline: Duration) -> Result<(), String> {
    if !socket.exists() {
        return Err("no such socket".into());
    }
    let secs = deadline.as_secs().max(1);
    let docker = Docker::connect_with_unix(&socket.to_string_lossy(), secs, API_DEFAULT_VERSION)
        .map_err(|e| e.to_string())?;
    docker.ping().await.map(drop).map_err(|e| e.to_string())
}

fn candidates(
    explicit: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
    uid: Option<u32>,
) -> Vec<PathBuf> {
    let configured = explicit
        .map(Path::to_path_buf)
        .or_else(|| env(ENGINE_ENV).map(|v| unix_path(&v).unwrap_or_else(|| PathBuf::from(v))));
    let from_hosts = [CONTAINER_HOST_ENV, DOCKER_HOST_ENV]
        .into_iter()
        .filter_map(|key| env(key).and_then(|v| unix_path(&v)));
    let xdg = env("XDG_RUNTIME_DIR").map(|dir| Path::new(&dir).join("podman/podman.sock"));
    let per_user = uid.map(|uid| PathBuf::from(format!("/run/user/{uid}/podman/podman.sock")));

    let mut out: Vec<PathBuf> = Vec::new();
    let all = configured
        .into_iter()
        .chain(from_hosts)
        .chain(xdg)
        .chain(per_user)
        .chain([PathBuf::from(ROOTFUL_SOCKET)]);
    for path in all {
        if !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// The path of a `unix://` URL; `None` for other schemes (ssh, tcp).
fn unix_path(url: &str) -> Option<PathBuf> {
    url.strip_prefix("unix://").map(PathBuf::from)
}

/// This process's user id, from the owner of `/proc/self`.
fn current_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| vars.get(key).cloned()
    }

    fn paths(list: &[&str]) -> Vec<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn order_is_config_then_podman_then_docker_then_user_then_rootful() {
        let found = candidates(
            None,
            env(&[
                (ENGINE_ENV, "unix:///etc/archy/engine.sock"),
                (CONTAINER_HOST_ENV, "unix:///run/ch.sock"),
                (DOCKER_HOST_ENV, "unix:///run/dh.sock"),
                ("XDG_RUNTIME_DIR", "/run/user/1000"),
            ]),
            Some(1001),
        );
        assert_eq!(
            found,
            paths(&[
                "/etc/archy/engine.sock",
                "/run/ch.sock",
                "/run/dh.sock",
                "/run/user/1000/podman/podman.sock",
                "/run/user/1001/podman/podman.sock",
                ROOTFUL_SOCKET,
            ])
        );
    }

    #[test]
    fn explicit_config_beats_the_environment_and_accepts_a_bare_path() {
        let found = candidates(
            Some(Path::new("/srv/engine.sock")),
            env(&[(ENGINE_ENV, "/ignored.sock")]),
            None,
        );
        assert_eq!(found, paths(&["/srv/engine.sock", ROOTFUL_SOCKET]));
        let found = candidates(None, env(&[(ENGINE_ENV, "/srv/bare.sock")]), None);
        assert_eq!(found, paths(&["/srv/bare.sock", ROOTFUL_SOCKET]));
    }

    #[test]
    fn non_unix_hosts_are_skipped_and_duplicates_dropped() {
        let found = candidates(
            None,
            env(&[
                (CONTAINER_HOST_ENV, "ssh://core@host/run/podman/podman.sock"),
                (DOCKER_HOST_ENV, "unix:///run/user/0/podman/podman.sock"),
                ("XDG_RUNTIME_DIR", "/run/user/0"),
            ]),
            Some(0),
        );
        assert_eq!(
            found,
            paths(&["/run/user/0/podman/podman.sock", ROOTFUL_SOCKET])
        );
    }

    #[tokio::test]
    async fn none_answering_lists_every_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.sock");
        let not_a_socket = dir.path().join("file.sock");
        std::fs::write(&not_a_socket, b"").unwrap();
        let err = first_answering(vec![missing.clone(), not_a_socket.clone()])
            .await
            .unwrap_err();
        assert_eq!(err.tried.len(), 2);
        assert_eq!(
            err.tried[0],
            (missing.clone(), "no such socket".to_string())
        );
        let message = err.to_string();
        assert!(
            message.contains(&missing.display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&not_a_socket.display().to_string()),
            "{message}"
        );
    }
}
