//! The manifest schema (docs/manifest.md) and the views actors use.
//!
//! Fields that Archy never allows (`privileged`, `network_mode`, `pid`, `ipc`,
//! a volume's `host`) are still part of the schema so that validation can say
//! *why* they are refused instead of "unknown field".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{defaults, validate, ManifestError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tier: Tier,
    /// Capability names other apps may depend on (e.g. `bitcoin`).
    #[serde(default)]
    pub provides: Vec<String>,
    #[serde(default)]
    pub conflicts_with: Vec<String>,
    #[serde(default)]
    pub depends_on: Vec<Dependency>,
    #[serde(default)]
    pub generated_secrets: Vec<GeneratedSecret>,
    #[serde(default)]
    pub derived_files: Vec<DerivedFile>,
    #[serde(default)]
    pub restart: RestartPolicy,
    #[serde(default)]
    pub hooks: Hooks,
    #[serde(default)]
    pub companions: Vec<Companion>,
    /// A single-container app. Exactly one of `container` and `stack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// A multi-container app: members in start order (stop runs in reverse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Vec<Container>>,
    /// The file this manifest was read from.
    #[serde(skip)]
    pub origin: PathBuf,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Database,
    Backend,
    #[default]
    App,
    Ui,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// An app id or a `provides` name.
    pub id: String,
    #[serde(default)]
    pub condition: Condition,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    #[default]
    Running,
    Healthy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratedSecret {
    pub name: String,
    pub kind: SecretKind,
    #[serde(default = "defaults::secret_length")]
    pub length: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretKind {
    /// Lowercase hex digits.
    Hex,
    /// `[A-Za-z0-9]`.
    Alnum,
    /// Alphanumerics plus `-_.~`: URL-safe, so it can sit in a connection URL
    /// or a config file without quoting.
    Password,
}

impl SecretKind {
    /// The characters a generated secret of this kind is drawn from.
    pub fn alphabet(self) -> &'static [u8] {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        match self {
            SecretKind::Hex => b"0123456789abcdef",
            SecretKind::Alnum => ALNUM,
            SecretKind::Password => {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedFile {
    /// Relative to the app's data directory.
    pub path: String,
    /// Text with `${secret:NAME}` / `${app:ID:secret:NAME}` placeholders.
    pub template: String,
    #[serde(default = "defaults::yes")]
    pub restart_on_change: bool,
    /// Octal permission bits as a string, e.g. "0640" (default "0600").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

impl DerivedFile {
    /// The file's permission bits (validated to parse and be at most 0o777).
    pub fn mode_bits(&self) -> u32 {
        self.mode
            .as_deref()
            .and_then(|m| u32::from_str_radix(m, 8).ok())
            .unwrap_or(defaults::DERIVED_FILE_MODE)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartPolicy {
    #[serde(default = "defaults::restart_max_attempts")]
    pub max_attempts: u32,
    #[serde(default)]
    pub backoff: Backoff,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_attempts: defaults::RESTART_MAX_ATTEMPTS,
            backoff: Backoff::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    #[serde(default = "defaults::backoff_initial_secs")]
    pub initial_secs: u64,
    #[serde(default = "defaults::backoff_max_secs")]
    pub max_secs: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial_secs: defaults::BACKOFF_INITIAL_SECS,
            max_secs: defaults::BACKOFF_MAX_SECS,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    #[serde(default)]
    pub post_install: Vec<Hook>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// Stack member to run in; defaults to the first member (or the container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    pub cmd: Vec<String>,
    #[serde(default = "defaults::hook_timeout_secs")]
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Companion {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    #[serde(default)]
    pub ports: Vec<Port>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

impl Companion {
    pub fn image_source(&self) -> Option<ImageSource<'_>> {
        ImageSource::of(&self.image, &self.build)
    }
}

/// One container: the app's `container`, or a `stack` member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// Stack members only (a DNS label); a single container is named after the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Stack members only; defaults to the app's tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<Port>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    /// Added on top of `--cap-drop ALL`; only names from the allowlist.
    #[serde(default)]
    pub caps: Vec<String>,
    /// Overrides [`defaults::stop_grace`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grace_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    #[serde(default)]
    pub network_aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Refused when true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Always refused: Archy owns networking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// Always refused: containers get their own PID namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Always refused: containers get their own IPC namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc: Option<String>,
}

impl Container {
    pub fn image_source(&self) -> Option<ImageSource<'_>> {
        ImageSource::of(&self.image, &self.build)
    }

    /// Grace between SIGTERM and SIGKILL: the explicit value, else the table.
    pub fn stop_grace(&self, app_id: &str, tier: Tier) -> Duration {
        self.stop_grace_secs
            .map(Duration::from_secs)
            .unwrap_or_else(|| defaults::stop_grace(app_id, tier))
    }
}

/// Where a container's image comes from (exactly one on a valid manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSource<'a> {
    Image(&'a str),
    Build(&'a Build),
}

impl<'a> ImageSource<'a> {
    fn of(image: &'a Option<String>, build: &'a Option<Build>) -> Option<Self> {
        match (image, build) {
            (Some(image), None) => Some(Self::Image(image)),
            (None, Some(build)) => Some(Self::Build(build)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Relative to the manifest's directory in the file; absolute once loaded.
    pub context: PathBuf,
    /// Relative to the context.
    #[serde(default = "defaults::containerfile")]
    pub containerfile: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub container: u16,
    pub host: u16,
    #[serde(default = "defaults::host_ip")]
    pub host_ip: String,
    #[serde(default)]
    pub protocol: Protocol,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
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
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// A named engine volume, private to the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// A subdirectory of the app's data root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Always refused: host paths outside the app's data root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Absolute path inside the container.
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
}

/// What a volume mounts (exactly one on a valid manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeSource<'a> {
    Named(&'a str),
    Data(&'a str),
}

impl Volume {
    pub fn source(&self) -> Option<VolumeSource<'_>> {
        match (&self.volume, &self.data, &self.host) {
            (Some(name), None, None) => Some(VolumeSource::Named(name)),
            (None, Some(dir), None) => Some(VolumeSource::Data(dir)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecProbe>,
    #[serde(default = "defaults::health_interval_secs")]
    pub interval_secs: u64,
    #[serde(default = "defaults::health_timeout_secs")]
    pub timeout_secs: u64,
    /// Consecutive failures before the container counts as unhealthy.
    #[serde(default = "defaults::health_retries")]
    pub retries: u32,
    /// Failures during this time after start do not count.
    #[serde(default = "defaults::health_start_period_secs")]
    pub start_period_secs: u64,
}

/// The probe a health check runs (exactly one on a valid manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe<'a> {
    Http(&'a HttpProbe),
    Tcp(&'a TcpProbe),
    Exec(&'a ExecProbe),
}

impl Health {
    pub fn probe(&self) -> Option<Probe<'_>> {
        match (&self.http, &self.tcp, &self.exec) {
            (Some(http), None, None) => Some(Probe::Http(http)),
            (None, Some(tcp), None) => Some(Probe::Tcp(tcp)),
            (None, None, Some(exec)) => Some(Probe::Exec(exec)),
            _ => None,
        }
    }
}

/// Ports in probes are container ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    pub port: u16,
    #[serde(default = "defaults::http_path")]
    pub path: String,
    #[serde(default = "defaults::http_status")]
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpProbe {
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecProbe {
    pub cmd: Vec<String>,
}

/// One container of an app as the actors see it, for single and stack apps alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberView<'a> {
    /// The stack member's name; for a single-container app, the app id.
    pub name: &'a str,
    pub container: &'a Container,
    pub tier: Tier,
    pub stop_grace: Duration,
}

impl Manifest {
    /// Parses and validates one manifest; `origin` is the file it came from
    /// (errors name it; `build.context` resolves against its directory).
    pub fn from_yaml_str(src: &str, origin: &Path) -> Result<Manifest, ManifestError> {
        let mut manifest: Manifest =
            serde_yaml::from_str(src).map_err(|e| ManifestError::Parse {
                path: origin.to_path_buf(),
                message: e.to_string(),
            })?;
        manifest.origin = origin.to_path_buf();
        let violations = validate::manifest(&mut manifest);
        if violations.is_empty() {
            Ok(manifest)
        } else {
            Err(ManifestError::Invalid {
                path: origin.to_path_buf(),
                violations,
            })
        }
    }

    /// The containers in start order (stop in reverse).
    pub fn members(&self) -> Vec<MemberView<'_>> {
        self.containers()
            .map(|(_, container)| {
                let name = container.name.as_deref().unwrap_or(&self.id);
                let tier = container.tier.unwrap_or(self.tier);
                MemberView {
                    name,
                    container,
                    tier,
                    stop_grace: container.stop_grace(&self.id, tier),
                }
            })
            .collect()
    }

    /// The member called `name` (the app id for a single-container app).
    pub fn member(&self, name: &str) -> Option<MemberView<'_>> {
        self.members().into_iter().find(|m| m.name == name)
    }

    /// Whether the two apps declare (either way round) that they conflict.
    pub fn conflicts(&self, other: &Manifest) -> bool {
        self.conflicts_with.contains(&other.id) || other.conflicts_with.contains(&self.id)
    }

    /// Whether a `depends_on` id names this app (its id or a `provides` name).
    pub fn answers_to(&self, name: &str) -> bool {
        self.id == name || self.provides.iter().any(|p| p == name)
    }

    /// Stable hash of everything in the manifest, for change detection.
    pub fn content_hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("a manifest always serializes");
        hex::encode(&Sha256::digest(&json)[..16])
    }

    /// Every container with its field path (`container`, `stack[1]`).
    pub(crate) fn containers(&self) -> impl Iterator<Item = (String, &Container)> {
        let single = self.container.iter().map(|c| ("container".to_string(), c));
        let stack = self
            .stack
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, c)| (format!("stack[{i}]"), c));
        single.chain(stack)
    }

    /// Every published port with its field path, companions included.
    pub(crate) fn host_ports(&self) -> Vec<(String, &Port)> {
        let containers = self.containers().flat_map(|(at, c)| {
            c.ports
                .iter()
                .enumerate()
                .map(move |(i, p)| (format!("{at}.ports[{i}]"), p))
        });
        let companions = self.companions.iter().enumerate().flat_map(|(ci, c)| {
            c.ports
                .iter()
                .enumerate()
                .map(move |(i, p)| (format!("companions[{ci}].ports[{i}]"), p))
        });
        containers.chain(companions).collect()
    }
}

/// Reads and validates one manifest file.
pub fn load_manifest(path: &Path) -> Result<Manifest, ManifestError> {
    let src = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Manifest::from_yaml_str(&src, path)
}
