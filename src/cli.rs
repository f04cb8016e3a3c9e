//! The command line, as clap reads it. Each subcommand's behaviour lives in
//! `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "archy",
    version,
    about = "Installs, runs and heals containerized apps on a home server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: engine, supervision tree, JSON-RPC gateway, dashboard.
    Serve(crate::daemon::ServeArgs),
    /// Work with app manifests.
    #[command(subcommand)]
    App(AppCommand),
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Check manifests: every rule, each file against its catalog.
    ///
    /// Exits 0 when every file is valid, 1 when any is not; each problem
    /// names the file, the field and what is allowed.
    Validate(ValidateArgs),
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
