//! `archy`: the daemon and its command line.

mod cli;
mod client;
mod commands;
mod daemon;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    commands::run(cli)
}
