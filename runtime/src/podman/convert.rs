//! Translations between Archy's types and the engine's wire shapes.
//!
//! Reading goes through [`WireSummary`] and [`WireInspect`]: the few fields
//! Archy uses, with states as plain strings. bollard's typed answers convert
//! into them, and the raw fallback ([`super::rawlist`]) decodes into them
//! directly when bollard's strict state enums reject Podman's `stopped`.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, EndpointSettings,
    EventMessage, HostConfig, Mount as EngineMount, MountType, NetworkingConfig,
    PortBinding as EnginePortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use serde::Deserialize;

use crate::{
    labels, ContainerDetails, ContainerSpec, EngineEvent, EngineEventKind, MountSource, Observed,
    Role, RunState,
};

/// The request body that creates `spec`, least privilege: every capability
/// dropped but the spec's, no privilege escalation, and no restart policy
/// (Archy restarts containers, not Podman). The spec hash is stamped.
pub(crate) fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let spec = spec.clone().with_hash_label();
    let mut port_bindings: HashMap<String, Option<Vec<EnginePortBinding>>> = HashMap::new();
    for port in &spec.ports {
        let key = format!("{}/{}", port.container_port, port.protocol.as_str());
        port_bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(EnginePortBinding {
                host_ip: Some(port.host_ip.clone()),
                host_port: Some(port.host_port.to_string()),
            });
    }
    let mut exposed_ports: Vec<String> = port_bindings.keys().cloned().collect();
    exposed_ports.sort();

    let mounts = spec.mounts.iter().map(engine_mount).collect();
    let networking_config = spec.network.as_ref().map(|network| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            network.clone(),
            EndpointSettings {
                aliases: Some(spec.network_aliases.clone()),
                ..Default::default()
            },
        )])),
    });

    ContainerCreateBody {
        image: Some(spec.image.clone()),
        entrypoint: spec.entrypoint.clone(),
        cmd: spec.cmd.clone(),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        exposed_ports: Some(exposed_ports),
        labels: Some(spec.labels.clone().into_iter().collect()),
        stop_timeout: Some(i64::try_from(spec.stop_grace_secs).unwrap_or(i64::MAX)),
        user: spec.user.clone(),
        networking_config,
        host_config: Some(HostConfig {
            port_bindings: Some(port_bindings),
            mounts: Some(mounts),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(spec.cap_add.clone()),
            privileged: Some(false),
            security_opt: Some(vec!["no-new-privileges".into()]),
            network_mode: spec.network.clone(),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::NO),
                maximum_retry_count: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn engine_mount(mount: &crate::Mount) -> EngineMount {
    let (typ, source) = match &mount.source {
        MountSource::Volume(name) => (MountType::VOLUME, name.clone()),
        MountSource::Bind(path) => (MountType::BIND, path.display().to_string()),
    };
    EngineMount {
        typ: Some(typ),
        source: Some(source),
        target: Some(mount.target.clone()),
        read_only: Some(mount.read_only),
        ..Default::default()
    }
}

/// `image` with `:latest` when it names neither tag nor digest: an empty tag
/// asks a Docker engine to pull every tag.
pub(crate) fn with_default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// One entry of `GET /containers/json`, as far as Archy reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WireSummary {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub labels: Option<HashMap<String, String>>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub status: String,
}

impl From<ContainerSummary> for WireSummary {
    fn from(c: ContainerSummary) -> Self {
        WireSummary {
            id: c.id.unwrap_or_default(),
            names: c.names.unwrap_or_default(),
            image: c.image.unwrap_or_default(),
            labels: c.labels,
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            status: c.status.unwrap_or_default(),
        }
    }
}

/// The managed container a list entry describes; `None` without `archy.app`.
pub(crate) fn observed(summary: WireSummary) -> Option<Observed> {
    let labels: BTreeMap<String, String> = summary.labels?.into_iter().collect();
    let app = labels.get(labels::APP)?.clone();
    let name = summary
        .names
        .first()
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_else(|| summary.id.clone());
    Some(Observed {
        id: summary.id,
        name,
        app,
        role: labels
            .get(labels::ROLE)
            .map_or(Role::App, |r| Role::parse(r)),
        spec_hash: labels.get(labels::SPEC_HASH).cloned(),
        image: summary.image,
        state: RunState::parse(&summary.state),
        exit_code: exit_code_from_status(&summary.status),
        labels,
    })
}

/// The exit code in a list status text: `"Exited (137) 3 seconds ago"`.
pub(crate) fn exit_code_from_status(status: &str) -> Option<i64> {
    let rest = status.trim().strip_prefix("Exited (")?;
    rest.split(')').next()?.trim().parse().ok()
}

/// `GET /containers/{name}/json`, as far as Archy reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WireInspect {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub restart_count: i64,
    #[serde(default)]
    pub state: WireState,
    #[serde(default)]
    pub config: WireConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WireState {
    #[serde(default)]
    pub status: String,
    pub exit_code: Option<i64>,
    #[serde(default, rename = "OOMKilled")]
    pub oom_killed: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WireConfig {
    pub image: Option<String>,
    pub labels: Option<HashMap<String, String>>,
}

impl From<ContainerInspectResponse> for WireInspect {
    fn from(c: ContainerInspectResponse) -> Self {
        let state = c.state.unwrap_or_default();
        let config = c.config.unwrap_or_default();
        WireInspect {
            id: c.id.unwrap_or_default(),
            name: c.name.unwrap_or_default(),
            image: c.image.unwrap_or_default(),
            restart_count: c.restart_count.unwrap_or_default(),
            state: WireState {
                status: state.status.map(|s| s.to_string()).unwrap_or_default(),
                exit_code: state.exit_code,
                oom_killed: state.oom_killed.unwrap_or_default(),
                started_at: state.started_at,
                finished_at: state.finished_at,
            },
            config: WireConfig {
                image: config.image,
                labels: config.labels,
            },
        }
    }
}

pub(crate) fn details(inspect: WireInspect) -> ContainerDetails {
    ContainerDetails {
        id: inspect.id,
        name: inspect.name.trim_start_matches('/').to_string(),
        // The name the container was created from, not the image id.
        image: inspect.config.image.unwrap_or(inspect.image),
        state: RunState::parse(&inspect.state.status),
        exit_code: inspect.state.exit_code,
        oom_killed: inspect.state.oom_killed,
        started_at: inspect.state.started_at.filter(|t| !t.is_empty()),
        finished_at: inspect.state.finished_at.filter(|t| !t.is_empty()),
        restart_count: inspect.restart_count,
        labels: inspect
            .config
            .labels
            .unwrap_or_default()
            .into_iter()
            .collect(),
    }
}

/// The Archy event an engine event stands for; `None` for containers Archy
/// does not manage and for actions the reconciler does not react to.
pub(crate) fn engine_event(message: EventMessage) -> Option<EngineEvent> {
    let actor = message.actor?;
    let attributes = actor.attributes.unwrap_or_default();
    let app = attributes.get(labels::APP)?.clone();
    let kind = match message.action.as_deref()? {
        "start" => EngineEventKind::Start,
        // Docker says `die`; Podman's filter matches `died` but reports `die`.
        "die" | "died" => EngineEventKind::Die {
            exit_code: attributes.get("exitCode").and_then(|c| c.parse().ok()),
        },
        "oom" => EngineEventKind::Oom,
        _ => return None,
    };
    let container = attributes
        .get("name")
        .cloned()
        .or(actor.id)
        .unwrap_or_default();
    Some(EngineEvent {
        container,
        app: Some(app),
        role: attributes
            .get(labels::ROLE)
            .map_or(Role::App, |r| Role::parse(r)),
        kind,
        instance: attributes.get(labels::INSTANCE).cloned(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use bollard::models::EventActor;

    use super::*;
    use crate::{Mount, PortBinding, Protocol};

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: "archy-web".into(),
            image: "localhost/web:1".into(),
            cmd: Some(vec!["serve".into()]),
            env: BTreeMap::from([("MODE".into(), "prod".into())]),
            ports: vec![
                PortBinding {
                    container_port: 8080,
                    host_port: 18080,
                    host_ip: "127.0.0.1".into(),
                    protocol: Protocol::Tcp,
                },
                PortBinding {
                    container_port: 8080,
                    host_port: 18081,
                    host_ip: "::1".into(),
                    protocol: Protocol::Tcp,
                },
            ],
            mounts: vec![
                Mount {
                    source: MountSource::Volume("archy-web-data".into()),
                    target: "/data".into(),
                    read_only: false,
                },
                Mount {
                    source: MountSource::Bind(PathBuf::from("/var/lib/archy/web/conf")),
                    target: "/conf".into(),
                    read_only: true,
                },
            ],
            cap_add: vec!["NET_BIND_SERVICE".into()],
            labels: BTreeMap::from([(labels::APP.into(), "web".into())]),
            network: Some("archy".into()),
            network_aliases: vec!["web".into()],
            stop_grace_secs: 45,
            user: Some("1000:1000".into()),
            ..Default::default()
        }
    }

    #[test]
    fn create_body_is_least_privilege_without_restart_policy() {
        let body = create_body(&spec());
        let host = body.host_config.unwrap();
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.cap_add, Some(vec!["NET_BIND_SERVICE".to_string()]));
        assert_eq!(host.privileged, Some(false));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges".to_string()])
        );
        assert_eq!(
            host.restart_policy.unwrap().name,
            Some(RestartPolicyNameEnum::NO)
        );
    }

    #[test]
    fn create_body_carries_the_spec_and_stamps_its_hash() {
        let spec = spec();
        let body = create_body(&spec);
        assert_eq!(body.image.as_deref(), Some("localhost/web:1"));
        assert_eq!(body.env, Some(vec!["MODE=prod".to_string()]));
        assert_eq!(body.stop_timeout, Some(45));
        assert_eq!(body.user.as_deref(), Some("1000:1000"));
        let labels = body.labels.unwrap();
        assert_eq!(labels[labels::SPEC_HASH], spec.spec_hash());
        assert_eq!(labels[labels::APP], "web");
    }

    #[test]
    fn create_body_groups_port_bindings_per_container_port() {
        let body = create_body(&spec());
        assert_eq!(body.exposed_ports, Some(vec!["8080/tcp".to_string()]));
        let bindings = body.host_config.unwrap().port_bindings.unwrap()["8080/tcp"]
            .clone()
            .unwrap();
        let hosts: Vec<_> = bindings
            .iter()
            .map(|b| (b.host_ip.clone().unwrap(), b.host_port.clone().unwrap()))
            .collect();
        assert_eq!(
            hosts,
            vec![
                ("127.0.0.1".to_string(), "18080".to_string()),
                ("::1".to_string(), "18081".to_string())
            ]
        );
    }

    #[test]
    fn create_body_mounts_volumes_and_binds_and_joins_the_network_with_aliases() {
        let body = create_body(&spec());
        let mounts = body.host_config.as_ref().unwrap().mounts.clone().unwrap();
        assert_eq!(mounts[0].typ, Some(MountType::VOLUME));
        assert_eq!(mounts[0].source.as_deref(), Some("archy-web-data"));
        assert_eq!(mounts[1].typ, Some(MountType::BIND));
        assert_eq!(mounts[1].read_only, Some(true));
        assert_eq!(
            body.host_config.unwrap().network_mode.as_deref(),
            Some("archy")
        );
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(endpoints["archy"].aliases, Some(vec!["web".to_string()]));
    }

    #[test]
    fn pulls_default_to_latest_only_without_tag_or_digest() {
        assert_eq!(with_default_tag("nginx"), "nginx:latest");
        assert_eq!(
            with_default_tag("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            with_default_tag("docker.io/lib/nginx:1.27"),
            "docker.io/lib/nginx:1.27"
        );
        assert_eq!(with_default_tag("app@sha256:abcd"), "app@sha256:abcd");
    }

    #[test]
    fn exit_code_is_read_from_the_status_text() {
        assert_eq!(
            exit_code_from_status("Exited (137) 3 seconds ago"),
            Some(137)
        );
        assert_eq!(
            exit_code_from_status("Exited (0) About a minute ago"),
            Some(0)
        );
        assert_eq!(exit_code_from_status("Up 2 minutes"), None);
        assert_eq!(exit_code_from_status("Created"), None);
    }

    #[test]
    fn summary_becomes_observed_with_labels_and_exit_code() {
        let summary = WireSummary {
            id: "abc".into(),
            names: vec!["/archy-web".into()],
            image: "localhost/web:1".into(),
            labels: Some(HashMap::from([
                (labels::APP.into(), "web".into()),
                (labels::ROLE.into(), "companion".into()),
                (labels::SPEC_HASH.into(), "h1".into()),
            ])),
            state: "stopped".into(),
            status: "Exited (2) 1 second ago".into(),
        };
        let o = observed(summary).unwrap();
        assert_eq!(o.name, "archy-web");
        assert_eq!(o.app, "web");
        assert_eq!(o.role, Role::Companion);
        assert_eq!(o.spec_hash.as_deref(), Some("h1"));
        assert_eq!(o.state, RunState::Exited);
        assert_eq!(o.exit_code, Some(2));
    }

    #[test]
    fn summary_without_app_label_is_not_managed() {
        assert_eq!(observed(WireSummary::default()), None);
    }

    fn event(action: &str, attributes: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some("abc".into()),
                attributes: Some(
                    attributes
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn die_event_of_a_managed_container_carries_its_exit_code() {
        let e = engine_event(event(
            "die",
            &[
                ("name", "archy-web"),
                (labels::APP, "web"),
                ("exitCode", "137"),
            ],
        ))
        .unwrap();
        assert_eq!(e.container, "archy-web");
        assert_eq!(e.app.as_deref(), Some("web"));
        assert_eq!(
            e.kind,
            EngineEventKind::Die {
                exit_code: Some(137)
            }
        );
    }

    #[test]
    fn an_event_carries_its_containers_instance_label() {
        let stamped = [(labels::APP, "web"), (labels::INSTANCE, "0123456789abcdef")];
        let e = engine_event(event("start", &stamped)).unwrap();
        assert_eq!(e.instance.as_deref(), Some("0123456789abcdef"));
        let legacy = engine_event(event("start", &[(labels::APP, "web")])).unwrap();
        assert_eq!(legacy.instance, None);
    }

    #[test]
    fn events_of_unmanaged_containers_and_other_actions_are_dropped() {
        assert_eq!(engine_event(event("start", &[("name", "other")])), None);
        assert_eq!(
            engine_event(event("cleanup", &[("name", "x"), (labels::APP, "web")])),
            None
        );
        assert_eq!(
            engine_event(event("oom", &[("name", "x"), (labels::APP, "web")])).map(|e| e.kind),
            Some(EngineEventKind::Oom)
        );
    }
}
