//! A manifest's companion → the container to create and how to get its
//! image. Built images are tagged with their context's hash, so a changed
//! context means a new tag, a new spec hash, and a recreated container.

use std::collections::BTreeMap;
use std::time::Duration;

use archy_apps::{Companion, ImageSource};
use archy_runtime::{labels, ContainerSpec, Role};

use crate::app::render::{context_hash, port, substitute, ImagePlan, RenderError, NETWORK};
use crate::secrets::SecretSource;

/// How long a companion gets between SIGTERM and SIGKILL: it holds no data.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// The tag suffix of an operator's own image: Archy never builds nor pulls it.
const OPERATOR_TAG: &str = ":local";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanionSpec {
    /// Stamped with its spec-hash label.
    pub spec: ContainerSpec,
    pub image: ImagePlan,
}

impl CompanionSpec {
    /// An `image: …:local` is the operator's: never rebuilt, never pulled.
    pub fn is_operator_image(&self) -> bool {
        self.image == ImagePlan::Pull && self.spec.image.ends_with(OPERATOR_TAG)
    }
}

/// `archy-<app>-<companion>`.
pub fn container_name(app: &str, companion: &str) -> String {
    format!("archy-{app}-{companion}")
}

/// The container of `companion` of `app`. Hashes the build context (if any),
/// so call it once per pass.
pub fn render(
    app: &str,
    companion: &Companion,
    secrets: &dyn SecretSource,
) -> Result<CompanionSpec, RenderError> {
    let name = container_name(app, &companion.name);
    let (image, plan) = match companion.image_source() {
        Some(ImageSource::Image(image)) => (image.to_string(), ImagePlan::Pull),
        Some(ImageSource::Build(build)) => {
            let hash = context_hash(&build.context).map_err(|source| RenderError::Context {
                app: app.to_string(),
                context: build.context.clone(),
                source,
            })?;
            let plan = ImagePlan::Build {
                context: build.context.clone(),
                containerfile: build.containerfile.clone(),
                context_hash: hash.clone(),
            };
            (format!("localhost/{name}:{hash}"), plan)
        }
        None => {
            return Err(RenderError::NoImage {
                app: app.to_string(),
                member: companion.name.clone(),
            })
        }
    };
    let env = companion
        .env
        .iter()
        .map(|(k, v)| Ok((k.clone(), substitute(app, v, secrets)?)))
        .collect::<Result<BTreeMap<_, _>, RenderError>>()?;
    let labels = BTreeMap::from([
        (labels::APP.to_string(), app.to_string()),
        (
            labels::ROLE.to_string(),
            Role::Companion.as_str().to_string(),
        ),
    ]);
    let spec = ContainerSpec {
        image,
        env,
        ports: companion.ports.iter().map(port).collect(),
        labels,
        network: Some(NETWORK.to_string()),
        network_aliases: vec![format!("{app}-{}", companion.name)],
        stop_grace_secs: STOP_GRACE.as_secs(),
        name,
        ..ContainerSpec::default()
    };
    Ok(CompanionSpec {
        spec: spec.with_hash_label(),
        image: plan,
    })
}
