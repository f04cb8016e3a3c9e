//! `archy serve`: engine, supervision tree and gateway, wired together.
//!
//! Start order: engine (discovered, or a Podman service Archy owns) → tree
//! (boot recovery, one actor per installed app) → gateway. Stop order is the
//! reverse. Containers are never stopped by a daemon exit: the next start
//! adopts them.

mod backend;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use archy_actors::reconciler::ReconcilerConfig;
use archy_actors::registry::{parse_public_key, SignedCatalogConfig};
use archy_actors::tree::{Archy, Exit, TreeConfig};
use archy_rpc::{Gateway, GatewayConfig};
use archy_runtime::podman::PodmanRuntime;
use archy_runtime::MeteredRuntime;
use clap::Args;
use tokio::signal::unix::{signal, SignalKind};

pub use backend::TreeBackend;

/// Exit code when the root supervisor gave up (EX_SOFTWARE): the service
/// manager restarts Archy, which adopts the running containers.
const EXIT_ESCALATED: u8 = 70;
/// Exit code when Archy could not start (EX_UNAVAILABLE).
const EXIT_CANNOT_START: u8 = 69;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Catalog directories of app manifests (`<dir>/<id>/manifest.yml`).
    #[arg(long = "catalog", value_name = "DIR", default_value = "apps/catalog")]
    pub catalogs: Vec<PathBuf>,
    /// The engine's socket. Default: discovered (ARCHY_ENGINE, CONTAINER_HOST,
    /// DOCKER_HOST, the rootless then the rootful Podman socket); if none
    /// answers and podman is installed, Archy starts and owns a service.
    #[arg(long, value_name = "SOCKET")]
    pub engine: Option<PathBuf>,
    /// Address of the JSON-RPC gateway and the dashboard.
    #[arg(long, default_value = "127.0.0.1:8420")]
    pub listen: SocketAddr,
    /// The dashboard's files.
    #[arg(long, value_name = "DIR", default_value = "rpc/dashboard")]
    pub dashboard: PathBuf,
    /// Extra origins allowed to use the dashboard (e.g. http://archy.local:8420).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// A signed catalog file (its signature in `<file>.sig`); its apps win
    /// over the catalog directories'.
    #[arg(long, value_name = "FILE", requires = "catalog_key")]
    pub signed_catalog: Option<PathBuf>,
    /// The ed25519 public key (hex or base64) the signed catalog must verify with.
    #[arg(long, value_name = "KEY")]
    pub catalog_key: Option<String>,
    /// A separate loopback listener for `/metrics`.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Answer `debug.kill_actor`, which kills actors on request: for the
    /// chaos suite (`just chaos`), never for a real box.
    #[arg(long)]
    pub debug_rpc: bool,
    /// A container that exits within this many seconds of its start fails
    /// the install (failsafe). Default: 5. Shorter windows make test gates faster.
    #[arg(long, value_name = "SECS")]
    pub verify_window_secs: Option<f64>,
    /// Seconds between the reconciler's level-triggered passes and between
    /// each companion's passes: the longest a missed event or a deleted
    /// companion goes unnoticed. Default: 30. Shorter makes test labs faster.
    #[arg(long, value_name = "SECS")]
    pub reconcile_interval_secs: Option<f64>,
}

/// `state_dir` is the global `--state-dir`: desired state, journal, secrets
/// and app data live there.
pub fn run(args: ServeArgs, state_dir: PathBuf) -> ExitCode {
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("archy: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_CANNOT_START);
        }
    };
    runtime.block_on(serve(args, state_dir))
}

async fn serve(args: ServeArgs, state_dir: PathBuf) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(&state_dir) {
        tracing::error!(dir = %state_dir.display(), error = %e, "cannot create the state directory");
        return ExitCode::from(EXIT_CANNOT_START);
    }
    // First of all: what is recorded before the recorder exists is lost
    // (boot recovery's engine calls, the reconciler's zeroed series).
    if let Err(e) = archy_runtime::metrics::install() {
        tracing::error!("{e}");
        return ExitCode::from(EXIT_CANNOT_START);
    }
    let engine = match PodmanRuntime::open(args.engine.as_deref(), &state_dir).await {
        Ok(engine) => engine,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(EXIT_CANNOT_START);
        }
    };
    let endpoint = engine.socket().display().to_string();
    tracing::info!(socket = %endpoint, owned = engine.owns_service(), "engine answers");

    let mut config = TreeConfig::new(&state_dir);
    config.registry.dirs = args.catalogs.clone();
    if let Err(message) = apply_timing_flags(&args, &mut config) {
        tracing::error!("{message}");
        return ExitCode::from(EXIT_CANNOT_START);
    }
    config.registry.signed = match signed_catalog(&args) {
        Ok(signed) => signed,
        Err(message) => {
            tracing::error!("{message}");
            return ExitCode::from(EXIT_CANNOT_START);
        }
    };
    // Every engine call is counted and timed by operation (docs/metrics.md).
    let engine = MeteredRuntime::new(Arc::new(engine));
    let archy = match Archy::boot(config, Arc::new(engine)).await {
        Ok(archy) => Arc::new(archy),
        Err(e) => {
            tracing::error!("cannot boot: {e}");
            return ExitCode::from(EXIT_CANNOT_START);
        }
    };

    let mut gateway_config = GatewayConfig::new(&state_dir);
    gateway_config.listen = args.listen;
    gateway_config.allowed_origins = args.allowed_origins.clone();
    gateway_config.static_dir = args.dashboard.is_dir().then(|| args.dashboard.clone());
    gateway_config.metrics_listen = args.metrics_listen;
    let backend =
        Arc::new(TreeBackend::new(archy.clone(), endpoint).with_debug_rpc(args.debug_rpc));
    let gateway = match Gateway::serve(gateway_config, backend).await {
        Ok(gateway) => gateway,
        Err(e) => {
            tracing::error!("cannot start the gateway: {e}");
            archy.shutdown().await;
            return ExitCode::from(EXIT_CANNOT_START);
        }
    };
    tracing::info!(
        url = %format!("http://{}", gateway.local_addr),
        state_dir = %state_dir.display(),
        "Archy is serving"
    );

    let exit = tokio::select! {
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down; containers keep running");
            Exit::Clean
        }
        exit = archy.wait() => exit,
    };
    if let Err(e) = gateway.shutdown().await {
        tracing::warn!(error = %e, "gateway did not stop cleanly");
    }
    archy.shutdown().await;
    match exit {
        Exit::Clean => ExitCode::SUCCESS,
        Exit::Escalated => {
            tracing::error!(
                "the root supervisor exceeded its restart budget; exiting so the service manager restarts Archy (containers keep running and will be adopted)"
            );
            ExitCode::from(EXIT_ESCALATED)
        }
    }
}

/// `--verify-window-secs` and `--reconcile-interval-secs` into the tree's
/// configuration.
fn apply_timing_flags(args: &ServeArgs, config: &mut TreeConfig) -> Result<(), String> {
    let duration = |flag: &str, secs: f64| {
        Duration::try_from_secs_f64(secs).map_err(|e| format!("{flag} {secs}: {e}"))
    };
    if let Some(secs) = args.verify_window_secs {
        config.app.verify_window = duration("--verify-window-secs", secs)?;
    }
    if let Some(secs) = args.reconcile_interval_secs {
        let period = duration("--reconcile-interval-secs", secs)?;
        if period.is_zero() {
            return Err("--reconcile-interval-secs must be more than 0".into());
        }
        config.reconciler = ReconcilerConfig::every(period);
        config.companions.period = period;
    }
    Ok(())
}

/// `--signed-catalog` with its `--catalog-key`, both or neither.
fn signed_catalog(args: &ServeArgs) -> Result<Option<SignedCatalogConfig>, String> {
    match (&args.signed_catalog, &args.catalog_key) {
        (None, None) => Ok(None),
        (Some(file), Some(key)) => {
            let public_key = parse_public_key(key).map_err(|e| format!("--catalog-key: {e}"))?;
            Ok(Some(SignedCatalogConfig {
                file: file.clone(),
                public_key,
            }))
        }
        _ => Err("--signed-catalog and --catalog-key go together (docs/catalog-signing.md)".into()),
    }
}

async fn shutdown_signal() -> &'static str {
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops Archy");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn serve_args(flags: &[&str]) -> ServeArgs {
        let argv = ["archy", "serve"].iter().chain(flags);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Serve(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn the_reconcile_interval_paces_the_reconciler_and_the_companions() {
        let mut config = TreeConfig::new("/state");
        apply_timing_flags(
            &serve_args(&["--reconcile-interval-secs", "2.5"]),
            &mut config,
        )
        .unwrap();
        let period = Duration::from_millis(2500);
        assert_eq!(config.reconciler.period, period);
        assert_eq!(config.reconciler.pass_deadline, period / 2);
        assert_eq!(config.companions.period, period);
    }

    #[test]
    fn without_timing_flags_the_defaults_stay() {
        let mut config = TreeConfig::new("/state");
        apply_timing_flags(&serve_args(&[]), &mut config).unwrap();
        assert_eq!(config.reconciler.period, Duration::from_secs(30));
        assert_eq!(config.companions.period, Duration::from_secs(30));
    }

    #[test]
    fn a_zero_reconcile_interval_is_refused() {
        let mut config = TreeConfig::new("/state");
        let error = apply_timing_flags(
            &serve_args(&["--reconcile-interval-secs", "0"]),
            &mut config,
        )
        .unwrap_err();
        assert!(error.contains("more than 0"), "{error}");
    }
}
