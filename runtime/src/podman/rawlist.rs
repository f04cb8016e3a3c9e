//! The raw fallback: the same GETs bollard makes, decoded into
//! [`WireSummary`]/[`WireInspect`] whose states are plain strings.
//!
//! Podman (through 5.x) briefly reports a container as `stopped`, a state
//! bollard's strict enums reject, failing the whole list (~25% of list calls
//! while two containers crash-loop). Reading the state as a string and
//! mapping it with [`crate::RunState::parse`] never fails on it.

use std::path::Path;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyperlocal::{UnixClientExt, UnixConnector};
use serde::de::DeserializeOwned;

use super::classify::{classify, Call};
use super::convert::{WireInspect, WireSummary};
use crate::{RuntimeError, RuntimeResult};

/// `GET /containers/json?all=true&filters={"label":["archy.app"]}`: every
/// managed container (Podman accepts a bare-key label filter in a list).
const MANAGED_LIST: &str =
    "/containers/json?all=true&filters=%7B%22label%22%3A%5B%22archy.app%22%5D%7D";

pub(crate) async fn list_managed(
    socket: &Path,
    deadline: Duration,
) -> RuntimeResult<Vec<WireSummary>> {
    let call = Call::new("list", "containers", "managed", deadline);
    get_json(socket, MANAGED_LIST, call).await
}

pub(crate) async fn inspect(
    socket: &Path,
    name: &str,
    deadline: Duration,
) -> RuntimeResult<WireInspect> {
    let call = Call::new("inspect", "container", name, deadline);
    get_json(socket, &format!("/containers/{name}/json"), call).await
}

async fn get_json<T: DeserializeOwned>(
    socket: &Path,
    path: &str,
    call: Call<'_>,
) -> RuntimeResult<T> {
    let client: Client<UnixConnector, Empty<Bytes>> = Client::unix();
    let uri: hyper::Uri = hyperlocal::Uri::new(socket, path).into();
    let exchange = async {
        let response = client.get(uri).await.map_err(|e| unavailable(socket, e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unavailable(socket, e))?
            .to_bytes();
        Ok::<_, RuntimeError>((status, body))
    };
    let (status, body) = tokio::time::timeout(call.deadline, exchange)
        .await
        .map_err(|_| classify(call, bollard::errors::Error::RequestTimeoutError))??;
    if !status.is_success() {
        let error = bollard::errors::Error::DockerResponseServerError {
            status_code: status.as_u16(),
            message: server_message(&body),
        };
        return Err(classify(call, error));
    }
    decode(&body, call.op)
}

fn unavailable(socket: &Path, err: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Unavailable {
        reason: format!("{}: {err}", socket.display()),
    }
}

/// The `message` of an engine error body, or the body itself.
fn server_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: String,
    }
    serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned())
}

fn decode<T: DeserializeOwned>(body: &[u8], op: &str) -> RuntimeResult<T> {
    serde_json::from_slice(body).map_err(|e| RuntimeError::Engine {
        op: op.to_string(),
        message: format!("undecodable answer: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::podman::convert::{details, observed};
    use crate::{labels, RunState};

    #[test]
    fn managed_list_filters_on_the_app_label() {
        assert!(MANAGED_LIST.contains(&format!("%22{}%22", labels::APP)));
    }

    #[test]
    fn list_with_podmans_stopped_state_decodes() {
        let body = br#"[{"Id":"5c6b","Names":["/archy-web"],"Image":"localhost/web:1",
            "Labels":{"archy.app":"web","archy.spec-hash":"h1"},
            "State":"stopped","Status":"Exited (1) Less than a second ago",
            "Ports":[],"Created":1795424952}]"#;
        let list: Vec<WireSummary> = decode(body, "list").unwrap();
        let o = observed(list.into_iter().next().unwrap()).unwrap();
        assert_eq!(o.state, RunState::Exited);
        assert_eq!(o.exit_code, Some(1));
        assert_eq!(o.spec_hash.as_deref(), Some("h1"));
    }

    #[test]
    fn inspect_with_podmans_stopped_state_decodes() {
        let body = br#"{"Id":"5c6b","Name":"archy-web","Image":"sha256:bb9b",
            "RestartCount":3,"State":{"Status":"stopped","Running":false,"ExitCode":1,
            "OOMKilled":false,"StartedAt":"2026-11-23T09:00:00Z","FinishedAt":"2026-11-23T09:00:01Z"},
            "Config":{"Image":"localhost/web:1","Labels":{"archy.app":"web"}}}"#;
        let d = details(decode(body, "inspect").unwrap());
        assert_eq!(d.state, RunState::Exited);
        assert_eq!(d.image, "localhost/web:1");
        assert_eq!(d.restart_count, 3);
        assert_eq!(d.labels["archy.app"], "web");
    }

    #[test]
    fn server_error_message_is_extracted_from_podmans_body() {
        let body =
            br#"{"cause":"no such container","message":"no such container: x","response":404}"#;
        assert_eq!(server_message(body), "no such container: x");
        assert_eq!(server_message(b"plain"), "plain");
    }

    #[tokio::test]
    async fn missing_socket_is_unavailable() {
        let err = list_managed(
            Path::new("/nonexistent/podman.sock"),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, RuntimeError::Unavailable { .. }), "{err:?}");
    }
}
