//! What each subcommand does.

mod validate;

use std::process::ExitCode;

use crate::cli::{AppCommand, Cli, Command};

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => crate::daemon::run(args),
        Command::App(AppCommand::Validate(args)) => validate::run(&args),
    }
}
