//! What Archy asks the engine to create.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::labels;

/// A container to create. Ordered maps keep the hash stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<PortBinding>,
    pub mounts: Vec<Mount>,
    /// Added on top of `--cap-drop ALL`.
    pub cap_add: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// Network to join (created with [`crate::ContainerRuntime::ensure_network`]).
    pub network: Option<String>,
    pub network_aliases: Vec<String>,
    /// Stored on the container as its stop timeout.
    pub stop_grace_secs: u64,
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    pub container_port: u16,
    pub host_port: u16,
    pub host_ip: String,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountSource {
    /// A named engine volume.
    Volume(String),
    /// A host directory (always under the app's data root; validated above).
    Bind(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub source: MountSource,
    pub target: String,
    pub read_only: bool,
}

impl ContainerSpec {
    /// A stable hash of everything that shapes the container, excluding the
    /// hash label itself and the owning instance (who runs a container is
    /// not what it is). Equal hash ⇒ the running container can be adopted.
    pub fn spec_hash(&self) -> String {
        let mut canonical = self.clone();
        canonical.labels.remove(labels::SPEC_HASH);
        canonical.labels.remove(labels::INSTANCE);
        let json = serde_json::to_vec(&canonical).expect("a spec always serializes");
        let digest = Sha256::digest(&json);
        hex::encode(&digest[..12])
    }

    /// The spec with its hash label stamped, ready to create.
    pub fn with_hash_label(mut self) -> Self {
        let hash = self.spec_hash();
        self.labels.insert(labels::SPEC_HASH.to_string(), hash);
        self
    }
}

/// An image to build from a local context directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    pub context: PathBuf,
    /// Path of the Containerfile, relative to the context.
    pub containerfile: String,
    /// The tag to give the image, e.g. `localhost/archy-demo-web:local`.
    pub tag: String,
    /// Labels put on the image (e.g. the context hash).
    pub labels: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: "archy-web".into(),
            image: "localhost/web:local".into(),
            ..Default::default()
        }
    }

    #[test]
    fn hash_ignores_its_own_label_and_tracks_content() {
        let a = spec();
        let stamped = a.clone().with_hash_label();
        assert_eq!(a.spec_hash(), stamped.spec_hash());
        assert_eq!(stamped.labels[labels::SPEC_HASH], a.spec_hash());
        let mut b = spec();
        b.env.insert("X".into(), "1".into());
        assert_ne!(a.spec_hash(), b.spec_hash());
    }
}
