//! One convergence pass of one companion: read what its app wants, look at
//! its container (one inspect), act. Steady state costs one engine call.

use std::collections::BTreeMap;
use std::time::Duration;

use archy_apps::{Companion, Probe};
use archy_runtime::{labels, BuildRequest, ContainerDetails, RuntimeError};

use super::render::{self, CompanionSpec, STOP_GRACE};
use super::CompanionEnv;
use crate::app::render::{ImagePlan, RenderError};
use crate::app::state::StateKind;
use crate::health::{published, ProbeTarget, Prober};
use crate::status::{AppStatus, Health};
use crate::store::{DesiredApp, StoreError};

/// What the parent app's desired state asks of its companion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wish {
    Run,
    /// The user stopped the app.
    Stop,
    /// The app is uninstalled (or uninstalling), or no longer declares it.
    Remove,
    /// The app is still installing: leave the companion as it is.
    Wait,
}

/// The companion follows its app's desired state and never drives it.
pub fn wish(desired: Option<&DesiredApp>, parent: Option<&AppStatus>, declared: bool) -> Wish {
    let Some(desired) = desired.filter(|d| d.installed && declared) else {
        return Wish::Remove;
    };
    match parent.map(|p| p.state.kind()) {
        Some(StateKind::Uninstalling) => Wish::Remove,
        _ if desired.user_stopped => Wish::Stop,
        None | Some(StateKind::Absent | StateKind::Installing) => Wish::Wait,
        _ => Wish::Run,
    }
}

/// What a pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The container was already as wanted.
    None,
    /// An exited container was started again.
    Started,
    /// A missing container was created and started.
    Created,
    /// Its image or settings changed: built/pulled, removed, created, started.
    Recreated,
    Stopped,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    pub wish: Wish,
    pub action: Action,
    pub health: Health,
}

#[derive(Debug, thiserror::Error)]
pub enum CompanionError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("{what}: {source}")]
    Engine {
        what: String,
        #[source]
        source: RuntimeError,
    },
    #[error(
        "image {image} is the operator's (tag :local) and is not present; \
         build it with podman: Archy never builds or pulls it"
    )]
    OperatorImageMissing { image: String },
    #[error("the catalog has no manifest for {app} now; its companion is left as it is")]
    NotInCatalog { app: String },
    #[error("reading the desired state of {app}: {source}")]
    Store {
        app: String,
        #[source]
        source: StoreError,
    },
}

fn engine(what: impl Into<String>) -> impl FnOnce(RuntimeError) -> CompanionError {
    let what = what.into();
    move |source| CompanionError::Engine { what, source }
}

/// Converge companion `name` of `app` once.
pub async fn run(
    env: &CompanionEnv,
    prober: &Prober,
    app: &str,
    name: &str,
) -> Result<Pass, CompanionError> {
    let desired = env
        .app
        .desired
        .load(app)
        .map_err(|source| CompanionError::Store {
            app: app.to_string(),
            source,
        })?;
    let manifest = (env.manifests)(app);
    if manifest.is_none() && desired.as_ref().is_some_and(|d| d.installed) {
        // A manifest that drops the companion removes it; a catalog that
        // lost the whole manifest (for now) leaves it as it is.
        return Err(CompanionError::NotInCatalog {
            app: app.to_string(),
        });
    }
    let companion = manifest.and_then(|m| m.companions.iter().find(|c| c.name == name).cloned());
    let parent = env.app.board.get(app);
    let wish = wish(desired.as_ref(), parent.as_ref(), companion.is_some());
    let container = render::container_name(app, name);
    let companion = match (wish, companion) {
        (Wish::Run, Some(companion)) => companion,
        (other, _) => {
            let action = match other {
                Wish::Remove => remove(env, &container).await?,
                Wish::Stop => stop(env, &container).await?,
                Wish::Run | Wish::Wait => Action::None,
            };
            return Ok(Pass {
                wish,
                action,
                health: Health::Unknown,
            });
        }
    };
    let action = run_it(env, app, &companion, &container).await?;
    let health = probe(prober, &companion, &container).await;
    Ok(Pass {
        wish,
        action,
        health,
    })
}

async fn inspect(
    env: &CompanionEnv,
    container: &str,
) -> Result<Option<ContainerDetails>, CompanionError> {
    match env.app.runtime.inspect(container).await {
        Ok(details) => Ok(Some(details)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(engine(format!("inspecting {container}"))(e)),
    }
}

async fn remove(env: &CompanionEnv, container: &str) -> Result<Action, CompanionError> {
    // Data is never touched: a companion has no volumes, and named ones are
    // never removed here.
    match env.app.runtime.remove(container, true, false).await {
        Err(e) if !e.is_not_found() => Err(engine(format!("removing {container}"))(e)),
        _ => Ok(Action::Removed),
    }
}

async fn stop(env: &CompanionEnv, container: &str) -> Result<Action, CompanionError> {
    match inspect(env, container).await? {
        Some(details) if details.state.is_running() => {
            env.app
                .runtime
                .stop(container, STOP_GRACE)
                .await
                .map_err(engine(format!("stopping {container}")))?;
            Ok(Action::Stopped)
        }
        _ => Ok(Action::None),
    }
}

async fn run_it(
    env: &CompanionEnv,
    app: &str,
    companion: &Companion,
    container: &str,
) -> Result<Action, CompanionError> {
    let wanted = render::render(app, companion, &*env.app.secrets)?;
    let hash = wanted.spec.labels.get(labels::SPEC_HASH);
    let runtime = &env.app.runtime;
    let action = match inspect(env, container).await? {
        Some(current) if current.labels.get(labels::SPEC_HASH) == hash => {
            if current.state.is_running() {
                return Ok(Action::None);
            }
            Action::Started
        }
        current => {
            ensure_image(env, &wanted).await?;
            if current.is_some() {
                remove(env, container).await?;
            }
            env.app
                .ensure_network()
                .await
                .map_err(engine("creating the archy network"))?;
            runtime
                .create(&wanted.spec)
                .await
                .map_err(engine(format!("creating {container}")))?;
            if current.is_some() {
                Action::Recreated
            } else {
                Action::Created
            }
        }
    };
    runtime
        .start(container)
        .await
        .map_err(engine(format!("starting {container}")))?;
    Ok(action)
}

/// Present → nothing; a `build:` context → build it tagged with its hash;
/// an operator's `:local` image → an error; else one pull (the next pass
/// retries).
async fn ensure_image(env: &CompanionEnv, wanted: &CompanionSpec) -> Result<(), CompanionError> {
    let runtime = &env.app.runtime;
    let image = &wanted.spec.image;
    let present = runtime
        .image_present(image)
        .await
        .map_err(engine(format!("looking for image {image}")))?;
    if present {
        return Ok(());
    }
    if wanted.is_operator_image() {
        return Err(CompanionError::OperatorImageMissing {
            image: image.clone(),
        });
    }
    match &wanted.image {
        ImagePlan::Pull => runtime
            .pull(image, None)
            .await
            .map_err(engine(format!("pulling {image}"))),
        ImagePlan::Build {
            context,
            containerfile,
            context_hash,
        } => {
            let request = BuildRequest {
                context: context.clone(),
                containerfile: containerfile.clone(),
                tag: image.clone(),
                labels: BTreeMap::from([(labels::CONTEXT_HASH.to_string(), context_hash.clone())]),
            };
            runtime
                .build(&request, None)
                .await
                .map_err(engine(format!("building {image}")))
        }
    }
}

/// One probe of the companion's health check, if it declares a runnable one:
/// `healthy` when it passes, else `unknown` (a companion is never judged).
async fn probe(prober: &Prober, companion: &Companion, container: &str) -> Health {
    let Some(health) = &companion.health else {
        return Health::Unknown;
    };
    let target = match health.probe() {
        Some(Probe::Http(http)) => {
            published(&companion.ports, http.port).map(|addr| ProbeTarget::Http {
                addr,
                path: http.path.clone(),
                status: http.status,
            })
        }
        Some(Probe::Tcp(tcp)) => {
            published(&companion.ports, tcp.port).map(|addr| ProbeTarget::Tcp { addr })
        }
        Some(Probe::Exec(exec)) => Some(ProbeTarget::Exec {
            container: container.to_string(),
            cmd: exec.cmd.clone(),
        }),
        None => None,
    };
    let Some(target) = target else {
        return Health::Unknown;
    };
    let timeout = Duration::from_secs(health.timeout_secs);
    if prober.probe(&target, timeout).await.is_success() {
        Health::Healthy
    } else {
        Health::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::state::AppState;

    fn desired(user_stopped: bool) -> DesiredApp {
        DesiredApp {
            app_id: "web".into(),
            installed: true,
            user_stopped,
            manifest_hash: String::new(),
            installed_at: 0,
        }
    }

    fn parent(state: AppState) -> AppStatus {
        AppStatus::new("web", state, "")
    }

    #[test]
    fn a_companion_follows_the_wish_of_its_app_never_its_status() {
        let running = parent(AppState::Running);
        let failed = parent(AppState::failed("boom"));
        let stopped = parent(AppState::Stopped);
        let installing = parent(AppState::installing(crate::app::InstallPhase::Pulling));
        let uninstalling = parent(AppState::Uninstalling);
        let (on, off) = (desired(false), desired(true));
        assert_eq!(wish(Some(&on), Some(&running), true), Wish::Run);
        assert_eq!(wish(Some(&on), Some(&failed), true), Wish::Run);
        assert_eq!(wish(Some(&on), Some(&installing), true), Wish::Wait);
        assert_eq!(wish(Some(&on), None, true), Wish::Wait);
        assert_eq!(wish(Some(&off), Some(&stopped), true), Wish::Stop);
        assert_eq!(wish(Some(&off), Some(&installing), true), Wish::Stop);
        assert_eq!(wish(Some(&on), Some(&uninstalling), true), Wish::Remove);
        assert_eq!(wish(None, Some(&running), true), Wish::Remove);
        assert_eq!(wish(Some(&on), Some(&running), false), Wish::Remove);
    }
}
