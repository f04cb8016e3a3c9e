//! Maps bollard errors to [`RuntimeError`]s the actors can decide on.
//!
//! Podman 4.3.1 answers 500 where Docker answers 409 (name in use, state
//! improper) or 400 (bad filter), so the message text decides as much as the
//! status code. The table lives in `/work/shared/notes/podman-bollard.md`.

use std::time::Duration;

use bollard::errors::Error;

use crate::{ContainerSpec, RuntimeError};

/// What a failed engine call was doing, for the error's context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    /// The operation, e.g. `"create"`.
    pub op: &'static str,
    /// What it acts on: `"container"`, `"image"`, `"network"`, `"volume"`.
    pub kind: &'static str,
    /// The object's name.
    pub name: &'a str,
    /// The call's deadline, reported on timeout.
    pub deadline: Duration,
}

impl<'a> Call<'a> {
    pub fn new(op: &'static str, kind: &'static str, name: &'a str, deadline: Duration) -> Self {
        Call {
            op,
            kind,
            name,
            deadline,
        }
    }
}

/// The typed error for a bollard failure of `call`.
pub(crate) fn classify(call: Call<'_>, err: Error) -> RuntimeError {
    match err {
        Error::DockerResponseServerError {
            status_code,
            message,
        } => classify_status(call, status_code, message),
        Error::RequestTimeoutError => RuntimeError::Timeout {
            op: call.op.to_string(),
            after: call.deadline,
        },
        Error::JsonDataError { message, .. } if is_unknown_variant(&message) => {
            RuntimeError::Transient {
                op: call.op.to_string(),
                message,
            }
        }
        Error::DockerStreamError { error } => RuntimeError::ImageFailed {
            image: call.name.to_string(),
            reason: error,
        },
        Error::SocketNotFoundError(_)
        | Error::HyperLegacyError { .. }
        | Error::HyperResponseError { .. }
        | Error::IOError { .. } => RuntimeError::Unavailable {
            reason: err.to_string(),
        },
        other => RuntimeError::Engine {
            op: call.op.to_string(),
            message: other.to_string(),
        },
    }
}

/// A failed create: the container does not exist yet, so "not found" is
/// about what it needs: its network (Podman: 500 "network not found") or
/// its image (404 "no such image").
pub(crate) fn classify_create(call: Call<'_>, spec: &ContainerSpec, err: Error) -> RuntimeError {
    if let Error::DockerResponseServerError {
        status_code,
        message,
    } = &err
    {
        let missing_network = message.contains("network not found");
        if let (Some(network), true) = (&spec.network, missing_network) {
            return RuntimeError::NotFound {
                what: format!("network {network:?}"),
            };
        }
        if *status_code == 404 {
            return RuntimeError::NotFound {
                what: format!("image {:?}", spec.image),
            };
        }
    }
    classify(call, err)
}

/// Whether a bollard decode failure is Podman's transient state that the
/// strict serde enums reject (e.g. `unknown variant `stopped``).
pub(crate) fn is_unknown_variant(message: &str) -> bool {
    message.contains("unknown variant")
}

fn classify_status(call: Call<'_>, status: u16, message: String) -> RuntimeError {
    let lower = message.to_ascii_lowercase();
    let podman_500_or = |docker: u16| status == docker || status == 500;
    if status == 404 {
        RuntimeError::NotFound {
            what: format!("{} {:?}", call.kind, call.name),
        }
    } else if lower.contains("address already in use") {
        // Podman's bind error on start also says "already in use": it is a
        // host port another program holds, not a container name.
        RuntimeError::PortInUse {
            name: call.name.to_string(),
            message,
        }
    } else if podman_500_or(409) && lower.contains("already in use") {
        RuntimeError::NameInUse {
            name: call.name.to_string(),
        }
    } else if status == 409 || (status == 500 && lower.contains("state improper")) {
        RuntimeError::InvalidState {
            name: call.name.to_string(),
            op: call.op.to_string(),
            message,
        }
    } else if status == 400 || (status == 500 && lower.contains("invalid filter")) {
        RuntimeError::BadRequest {
            op: call.op.to_string(),
            message,
        }
    } else {
        RuntimeError::Engine {
            op: call.op.to_string(),
            message: format!("{status}: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEADLINE: Duration = Duration::from_secs(30);

    fn server(status_code: u16, message: &str) -> Error {
        Error::DockerResponseServerError {
            status_code,
            message: message.to_string(),
        }
    }

    fn call(op: &'static str) -> Call<'static> {
        Call::new(op, "container", "archy-web", DEADLINE)
    }

    #[test]
    fn missing_container_or_image_is_not_found() {
        let err = classify(
            call("inspect"),
            server(404, "no such container: archy-web: no such container"),
        );
        assert_eq!(
            err,
            RuntimeError::NotFound {
                what: "container \"archy-web\"".into()
            }
        );
        let err = classify(
            Call::new("create", "image", "localhost/nope:1", DEADLINE),
            server(404, "no such image: localhost/nope:1: image not known"),
        );
        assert!(err.is_not_found());
    }

    #[test]
    fn duplicate_name_is_name_in_use_on_podman_500_and_docker_409() {
        let podman = "error creating container storage: the container name \"archy-web\" is already in use by 5c6b. You have to remove that container to be able to reuse that name: that name is already in use";
        for status in [500, 409] {
            assert_eq!(
                classify(call("create"), server(status, podman)),
                RuntimeError::NameInUse {
                    name: "archy-web".into()
                }
            );
        }
    }

    #[test]
    fn a_host_port_in_use_is_not_a_name_in_use() {
        let podman = "cannot listen on the TCP port: listen tcp4 127.0.0.1:18432: bind: address already in use";
        let err = classify(call("start"), server(500, podman));
        assert!(!matches!(err, RuntimeError::NameInUse { .. }), "{err:?}");
        assert!(err.to_string().contains("127.0.0.1:18432"), "{err}");
    }

    #[test]
    fn kill_of_stopped_container_is_invalid_state() {
        let podman =
            "can only kill running containers. 5c6b is in state exited: container state improper";
        assert!(matches!(
            classify(call("kill"), server(500, podman)),
            RuntimeError::InvalidState { op, .. } if op == "kill"
        ));
        assert!(matches!(
            classify(call("kill"), server(409, "is not running")),
            RuntimeError::InvalidState { .. }
        ));
    }

    #[test]
    fn bad_filter_is_bad_request() {
        let podman = "failed to parse filters for {\"lable\":[\"x\"]}: invalid filter \"lable\"";
        assert!(matches!(
            classify(call("list"), server(500, podman)),
            RuntimeError::BadRequest { .. }
        ));
        assert!(matches!(
            classify(call("stop"), server(400, "t must be unsigned")),
            RuntimeError::BadRequest { .. }
        ));
    }

    #[test]
    fn other_server_errors_keep_status_and_message() {
        assert_eq!(
            classify(call("start"), server(500, "OCI runtime error: boom")),
            RuntimeError::Engine {
                op: "start".into(),
                message: "500: OCI runtime error: boom".into()
            }
        );
    }

    #[test]
    fn create_names_the_missing_image_or_network() {
        let spec = ContainerSpec {
            name: "archy-web".into(),
            image: "localhost/web:1".into(),
            network: Some("archy".into()),
            ..Default::default()
        };
        let missing_image = server(404, "no such image: localhost/web:1: image not known");
        assert_eq!(
            classify_create(call("create"), &spec, missing_image),
            RuntimeError::NotFound {
                what: "image \"localhost/web:1\"".into()
            }
        );
        let missing_network = server(
            500,
            "container create: unable to find network with name or ID archy: network not found",
        );
        assert_eq!(
            classify_create(call("create"), &spec, missing_network),
            RuntimeError::NotFound {
                what: "network \"archy\"".into()
            }
        );
        let port = server(
            500,
            "rootlessport listen tcp 127.0.0.1:18432: bind: address already in use",
        );
        assert!(matches!(
            classify(call("start"), port),
            RuntimeError::PortInUse { ref name, .. } if name == "archy-web"
        ));
        let in_use = server(500, "the container name \"archy-web\" is already in use");
        assert!(matches!(
            classify_create(call("create"), &spec, in_use),
            RuntimeError::NameInUse { .. }
        ));
    }

    #[test]
    fn client_timeout_is_timeout_with_the_calls_deadline() {
        assert_eq!(
            classify(call("stop"), Error::RequestTimeoutError),
            RuntimeError::Timeout {
                op: "stop".into(),
                after: DEADLINE
            }
        );
    }

    #[test]
    fn podman_stopped_state_decode_failure_is_transient() {
        let err = Error::JsonDataError {
            message: "unknown variant `stopped`, expected one of `created`, `running`".into(),
            contents: String::new(),
            column: 42,
        };
        assert!(matches!(
            classify(call("list"), err),
            RuntimeError::Transient { .. }
        ));
    }

    #[test]
    fn failed_pull_stream_is_image_failed() {
        let err = Error::DockerStreamError {
            error: "initializing source docker://nope/nope:1: reading manifest 1 in docker.io/nope/nope: requested access to the resource is denied".into(),
        };
        assert!(matches!(
            classify(Call::new("pull", "image", "nope/nope:1", DEADLINE), err),
            RuntimeError::ImageFailed { image, .. } if image == "nope/nope:1"
        ));
    }

    #[test]
    fn missing_socket_and_io_errors_are_unavailable() {
        let missing = Error::SocketNotFoundError("/run/podman/podman.sock".into());
        assert!(matches!(
            classify(call("ping"), missing),
            RuntimeError::Unavailable { .. }
        ));
        let io = Error::IOError {
            err: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert!(classify(call("ping"), io).is_retryable());
    }
}
