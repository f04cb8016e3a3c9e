//! The command line, as clap reads it. Each subcommand's behaviour lives in
//! `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Said under every `--help`: scripts branch on these.
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the operation failed, or the daemon refused it (the message says why)
  2  usage error
  3  no daemon answers at --url
  4  not authorized (token unreadable or refused)";

#[derive(Debug, Parser)]
#[command(
    name = "archy",
    version,
    about = "Installs, runs and heals containerized apps on a home server",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Archy's state directory (holds the daemon's token and the password).
    /// Default: $ARCHY_STATE_DIR, else ./var if it exists, else /var/lib/archy.
    #[arg(long, global = true, value_name = "DIR", env = "ARCHY_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Where the daemon listens.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        default_value = "http://127.0.0.1:8420"
    )]
    pub url: String,
    /// Print JSON instead of text, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

impl GlobalArgs {
    /// `--state-dir`, else `./var` when it exists (a checkout run with `just
    /// run`), else the system location.
    pub fn state_dir(&self) -> PathBuf {
        if let Some(dir) = &self.state_dir {
            return dir.clone();
        }
        let local = PathBuf::from("var");
        if local.is_dir() {
            local
        } else {
            PathBuf::from("/var/lib/archy")
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: engine, supervision tree, JSON-RPC gateway, dashboard.
    Serve(crate::daemon::ServeArgs),
    /// List apps: state, health, ports, restarts and why (installed first).
    #[command(after_help = EXIT_CODES)]
    Ps,
    /// Install an app from the catalog and start it.
    #[command(after_help = EXIT_CODES)]
    Install(LifecycleArgs),
    /// Start a stopped app.
    #[command(after_help = EXIT_CODES)]
    Start(LifecycleArgs),
    /// Stop an app; it stays stopped until you start it.
    #[command(after_help = EXIT_CODES)]
    Stop(LifecycleArgs),
    /// Stop then start an app.
    #[command(after_help = EXIT_CODES)]
    Restart(LifecycleArgs),
    /// Remove an app's containers; its data is kept unless --purge.
    #[command(after_help = EXIT_CODES)]
    Uninstall(UninstallArgs),
    /// Print the last lines of an app's log.
    #[command(after_help = EXIT_CODES)]
    Logs(LogsArgs),
    /// Print the event journal (every state change, with its reason).
    #[command(after_help = EXIT_CODES)]
    Events(EventsArgs),
    /// Set the dashboard password.
    ///
    /// Read twice without echo from the terminal, or one line from standard
    /// input when it is not a terminal (for scripts).
    Passwd,
    /// Work with app manifests.
    #[command(subcommand)]
    App(AppCommand),
}

#[derive(Debug, Args)]
pub struct LifecycleArgs {
    /// The app's id (see `archy ps`).
    pub id: String,
    /// Follow the operation to its end, one line per state change; exit 1 if
    /// it fails.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub app: LifecycleArgs,
    /// Also delete the app's data, volumes and secrets. Cannot be undone.
    #[arg(long)]
    pub purge: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The app's id.
    pub id: String,
    /// How many lines, from the end (at most 10000).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub tail: usize,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this app's events.
    pub id: Option<String>,
    /// Keep printing new events as they happen (Ctrl-C to stop).
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Check manifests: every rule, each file against its catalog.
    ///
    /// Exits 0 when every file is valid, 1 when any is not; each problem
    /// names the file, the field and what is allowed.
    Validate(ValidateArgs),
    /// Print the container spec(s) Archy would create for a manifest, as JSON,
    /// and an equivalent Podman Quadlet `.container` unit per member.
    ///
    /// Secrets show as placeholders unless --secrets reads the real ones from
    /// the state directory (then the spec hash is the one Archy stamps).
    Render(RenderArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Manifest files (`<catalog>/<id>/manifest.yml`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Extra catalog directories the files may depend on. The catalog each
    /// file sits in is always included.
    #[arg(long = "catalog", value_name = "DIR")]
    pub catalogs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The manifest file.
    pub file: PathBuf,
    /// Substitute the app's generated secrets from the state directory
    /// (needs the daemon's user; the app must have been installed once).
    #[arg(long)]
    pub secrets: bool,
}
