//! The lifecycle operations as plain async functions. The actor runs one at
//! a time in a task it owns; an operation reports its phases through
//! [`Progress`] and ends in `Ok` or an [`OpError`] the actor turns into the
//! final state. Keeping them outside the actor keeps both small and testable.

mod containers;
mod deps;
mod image;
mod lifecycle;
mod verify;

pub use lifecycle::{heal, install, restart, start, stop, uninstall};

use std::fs;
use std::sync::Arc;

use archy_apps::Manifest;
use archy_runtime::RuntimeError;

use super::env::AppEnv;
use super::render::{self, MemberSpec};
use super::state::{AppState, OpKind};
use crate::store::create_private_dir;

/// One lifecycle operation with its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Install,
    Start,
    Stop,
    Restart,
    Uninstall {
        purge: bool,
    },
    /// Restart member `from` and every member after it (rest_for_one), after
    /// a crash. Not a user request: the user's word is unchanged.
    Heal {
        from: usize,
    },
}

impl Op {
    pub fn kind(self) -> OpKind {
        match self {
            Op::Install => OpKind::Install,
            Op::Start => OpKind::Start,
            Op::Stop => OpKind::Stop,
            Op::Restart => OpKind::Restart,
            Op::Uninstall { .. } => OpKind::Uninstall,
            Op::Heal { .. } => OpKind::Heal,
        }
    }

    /// Run this operation to its end.
    pub async fn run(self, ctx: &OpCtx, progress: &Progress) -> Result<(), OpError> {
        match self {
            Op::Install => install(ctx, progress).await,
            Op::Start => start(ctx).await,
            Op::Stop => stop(ctx).await,
            Op::Restart => restart(ctx).await,
            Op::Uninstall { purge } => uninstall(ctx, purge).await,
            Op::Heal { from } => heal(ctx, from).await,
        }
    }
}

/// How an operation failed; the actor moves the app to the matching state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// A dependency is missing, stopped or slow: nothing is wrong with the
    /// app itself.
    #[error("{0}")]
    Blocked(String),
    #[error("{0}")]
    Failed(String),
    /// The engine could not be reached: not the app's failure; the actor
    /// retries the operation once the engine is back.
    #[error("{0}")]
    EngineDown(String),
}

impl OpError {
    /// An engine error while doing `what` (e.g. "starting archy-lnd").
    pub fn engine(what: impl std::fmt::Display, error: RuntimeError) -> Self {
        let reason = format!("{what}: {error}");
        match error {
            RuntimeError::Unavailable { .. } => OpError::EngineDown(reason),
            _ => OpError::Failed(reason),
        }
    }
}

/// Everything an operation needs.
#[derive(Clone)]
pub struct OpCtx {
    pub manifest: Arc<Manifest>,
    pub env: AppEnv,
}

impl OpCtx {
    pub fn app(&self) -> &str {
        &self.manifest.id
    }

    /// Render the members, generating missing secrets first.
    pub fn render(&self) -> Result<Vec<MemberSpec>, OpError> {
        let fail = |e: &dyn std::fmt::Display| OpError::Failed(e.to_string());
        self.env
            .secrets
            .ensure(&self.manifest)
            .map_err(|e| fail(&e))?;
        render::render(
            &self.manifest,
            &self.env.data_root(self.app()),
            self.env.secrets.as_ref(),
        )
        .map_err(|e| fail(&e))
    }

    /// The host directories the app's data volumes bind, created 0700.
    pub fn create_data_dirs(&self) -> Result<(), OpError> {
        let root = self.env.data_root(self.app());
        for dir in render::data_dirs(&self.manifest, &root) {
            create_private_dir(&dir).map_err(|e| OpError::Failed(e.to_string()))?;
        }
        Ok(())
    }

    /// Delete the app's data directory (purge only).
    pub fn delete_data(&self) -> Result<(), OpError> {
        let root = self.env.data_root(self.app());
        match fs::remove_dir_all(&root) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(OpError::Failed(format!(
                "cannot delete the data of {} at {}: {e}",
                self.app(),
                root.display()
            ))),
            _ => Ok(()),
        }
    }
}

/// Where an operation reports the state it moves through.
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(AppState, String) + Send + Sync>);

impl Progress {
    pub fn new(report: impl Fn(AppState, String) + Send + Sync + 'static) -> Self {
        Progress(Arc::new(report))
    }

    /// A sink for operations whose phases nobody watches.
    pub fn ignore() -> Self {
        Progress::new(|_, _| {})
    }

    pub fn report(&self, state: AppState, reason: impl Into<String>) {
        (self.0)(state, reason.into())
    }
}
