//! What the gate needs to know about each demo app, read from its manifest:
//! the ports to probe, the dependencies to install first, where data lives.

use std::path::Path;

use archy_apps::{load_manifest, Manifest, Protocol, VolumeSource};

/// One host port the app publishes, and how to tell it answers.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub port: u16,
    /// The member's HTTP health path when that probe is on this port;
    /// otherwise a TCP connect is proof enough.
    pub http_path: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GateApp {
    pub id: String,
    pub endpoints: Vec<Endpoint>,
    /// Apps to install before this one (and purge after).
    pub depends_on: Vec<String>,
    /// A `data:` directory under `<state>/data/<app>/`, if the app has one.
    pub data_subdir: Option<String>,
    /// The failsafe case: its install must fail and leave nothing behind.
    pub must_fail: bool,
}

/// The apps of `catalog` in gate order (dependencies first), `demo-crash`
/// being the expected failure.
pub fn load(catalog: &Path, ids: &[&str]) -> Result<Vec<GateApp>, String> {
    ids.iter()
        .map(|id| {
            let path = catalog.join(id).join("manifest.yml");
            let manifest = load_manifest(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(gate_app(&manifest))
        })
        .collect()
}

fn gate_app(manifest: &Manifest) -> GateApp {
    let mut endpoints = Vec::new();
    let mut data_subdir = None;
    for member in manifest.members() {
        let http = member
            .container
            .health
            .as_ref()
            .and_then(|h| h.http.as_ref());
        for port in &member.container.ports {
            if port.protocol != Protocol::Tcp {
                continue;
            }
            endpoints.push(Endpoint {
                port: port.host,
                http_path: http
                    .filter(|probe| probe.port == port.container)
                    .map(|probe| probe.path.clone()),
            });
        }
        for volume in &member.container.volumes {
            if let Some(VolumeSource::Data(dir)) = volume.source() {
                data_subdir.get_or_insert_with(|| dir.to_string());
            }
        }
    }
    GateApp {
        id: manifest.id.clone(),
        endpoints,
        depends_on: manifest.depends_on.iter().map(|d| d.id.clone()).collect(),
        data_subdir,
        must_fail: manifest.id == "demo-crash",
    }
}
