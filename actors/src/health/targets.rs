//! From a manifest to the checks to run: each member with a `health` spec,
//! its probe resolved to a host address (http, tcp) or a container (exec).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use archy_apps::{Manifest, Port, Probe, Protocol};

use super::probe::ProbeTarget;
use crate::app::render::container_name;

/// One member's check, as the manifest asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    pub member: String,
    pub target: ProbeTarget,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

/// A health spec Archy cannot run; the member's health stays unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "{app}: the {kind} health probe of {member} uses container port {port}, which is not \
         published (add it to `ports`); its health stays unknown"
    )]
    PortNotPublished {
        app: String,
        member: String,
        kind: &'static str,
        port: u16,
    },
}

/// The checks of every member with a runnable health spec, and the
/// problems of those without.
pub fn checks_of(manifest: &Manifest) -> (Vec<CheckSpec>, Vec<TargetError>) {
    let mut checks = Vec::new();
    let mut problems = Vec::new();
    for member in manifest.members() {
        let Some(health) = &member.container.health else {
            continue;
        };
        let Some(probe) = health.probe() else {
            continue; // validation refuses this manifest
        };
        let unpublished = |kind, port| TargetError::PortNotPublished {
            app: manifest.id.clone(),
            member: member.name.to_string(),
            kind,
            port,
        };
        let target = match probe {
            Probe::Http(http) => published(&member.container.ports, http.port)
                .map(|addr| ProbeTarget::Http {
                    addr,
                    path: http.path.clone(),
                    status: http.status,
                })
                .ok_or_else(|| unpublished("http", http.port)),
            Probe::Tcp(tcp) => published(&member.container.ports, tcp.port)
                .map(|addr| ProbeTarget::Tcp { addr })
                .ok_or_else(|| unpublished("tcp", tcp.port)),
            Probe::Exec(exec) => Ok(ProbeTarget::Exec {
                container: container_name(manifest, member.name),
                cmd: exec.cmd.clone(),
            }),
        };
        match target {
            Ok(target) => checks.push(CheckSpec {
                member: member.name.to_string(),
                target,
                interval: Duration::from_secs(health.interval_secs),
                timeout: Duration::from_secs(health.timeout_secs),
                retries: health.retries,
                start_period: Duration::from_secs(health.start_period_secs),
            }),
            Err(problem) => problems.push(problem),
        }
    }
    (checks, problems)
}

/// Where the host reaches `port` of the container: its published tcp port,
/// on loopback when published on every address.
pub(crate) fn published(ports: &[Port], port: u16) -> Option<SocketAddr> {
    let binding = ports
        .iter()
        .find(|p| p.container == port && p.protocol == Protocol::Tcp)?;
    let ip = match binding.host_ip.parse::<IpAddr>() {
        Ok(ip) if !ip.is_unspecified() => ip,
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    Some(SocketAddr::new(ip, binding.host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest(yaml: &str) -> Manifest {
        Manifest::from_yaml_str(yaml, Path::new("/catalog/t/manifest.yml")).unwrap()
    }

    #[test]
    fn http_probe_goes_to_the_published_host_port() {
        let m = manifest(
            "id: web\nname: web\nversion: \"1\"\ncontainer:\n  image: x\n  ports:\n  \
             - {container: 80, host: 18080}\n  health:\n    http: {port: 80, path: /index.html}\n",
        );
        let (checks, problems) = checks_of(&m);
        assert!(problems.is_empty());
        assert_eq!(
            checks[0].target.to_string(),
            "http GET 127.0.0.1:18080/index.html"
        );
        assert_eq!(checks[0].member, "web");
        assert_eq!(checks[0].retries, 3);
    }

    #[test]
    fn exec_probe_runs_in_the_member_container() {
        let m = manifest(
            "id: st\nname: st\nversion: \"1\"\nstack:\n- name: db\n  image: x\n  health:\n    \
             exec: {cmd: [pg_isready]}\n    interval_secs: 7\n- name: app\n  image: y\n",
        );
        let (checks, _) = checks_of(&m);
        assert_eq!(checks.len(), 1);
        assert_eq!(
            checks[0].target.to_string(),
            "exec `pg_isready` in archy-st-db"
        );
        assert_eq!(checks[0].interval, Duration::from_secs(7));
    }

    #[test]
    fn a_probe_on_an_unpublished_port_is_a_problem_not_a_check() {
        // Validation refuses this manifest; one built in code is still caught.
        let mut m = manifest(
            "id: tc\nname: tc\nversion: \"1\"\ncontainer:\n  image: x\n  ports:\n  \
             - {container: 5432, host: 15432}\n  health:\n    tcp: {port: 5432}\n",
        );
        m.container.as_mut().unwrap().ports.clear();
        let (checks, problems) = checks_of(&m);
        assert!(checks.is_empty());
        assert!(problems[0].to_string().contains("container port 5432"));
    }
}
