//! What each subcommand does.

mod events;
mod lifecycle;
mod logs;
mod output;
mod passwd;
mod ps;
mod quadlet;
mod render;
mod validate;

use std::future::Future;
use std::process::ExitCode;

use archy_rpc::Operation;

use crate::cli::{AppCommand, Cli, Command, GlobalArgs};
use crate::client::{ClientError, Daemon};
use output::{event_line, name, print_event, table};

/// The documented exit codes (see `archy --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failed = 1,
    Unreachable = 3,
    Unauthorized = 4,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

impl From<&ClientError> for Exit {
    fn from(error: &ClientError) -> Self {
        match error {
            ClientError::Unreachable { .. } | ClientError::Closed { .. } => Exit::Unreachable,
            ClientError::TokenUnreadable { .. } | ClientError::Unauthorized(_) => {
                Exit::Unauthorized
            }
            ClientError::Rpc { .. } | ClientError::BadUrl { .. } | ClientError::Protocol { .. } => {
                Exit::Failed
            }
        }
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let global = &cli.global;
    match cli.command {
        Command::Serve(args) => crate::daemon::run(args, cli.global.state_dir()),
        Command::App(AppCommand::Validate(args)) => validate::run(&args),
        Command::App(AppCommand::Render(args)) => render::run(global, &args).into(),
        Command::Passwd => passwd::run(global).into(),
        Command::Ps => talk(global, |daemon| ps::run(daemon, global)),
        Command::Install(args) => lifecycle(global, Operation::Install { app: args.id }, args.wait),
        Command::Start(args) => lifecycle(global, Operation::Start { app: args.id }, args.wait),
        Command::Stop(args) => lifecycle(global, Operation::Stop { app: args.id }, args.wait),
        Command::Restart(args) => lifecycle(global, Operation::Restart { app: args.id }, args.wait),
        Command::Uninstall(args) => {
            let operation = Operation::Uninstall {
                app: args.app.id,
                purge: args.purge,
            };
            lifecycle(global, operation, args.app.wait)
        }
        Command::Logs(args) => talk(global, |daemon| logs::run(daemon, global, args)),
        Command::Events(args) => talk(global, |daemon| events::run(daemon, global, args)),
    }
}

fn lifecycle(global: &GlobalArgs, operation: Operation, wait: bool) -> ExitCode {
    let request = lifecycle::Request::new(operation, wait);
    talk(global, |daemon| lifecycle::run(daemon, global, request))
}

/// Connect to the daemon, run `command` against it, and turn any client
/// error into its message and exit code.
fn talk<F, Fut>(global: &GlobalArgs, command: F) -> ExitCode
where
    F: FnOnce(Daemon) -> Fut,
    Fut: Future<Output = Result<Exit, ClientError>>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("archy: cannot start the async runtime: {error}");
            return Exit::Failed.into();
        }
    };
    let outcome = runtime.block_on(async {
        let daemon = Daemon::connect(&global.url, &global.state_dir()).await?;
        command(daemon).await
    });
    match outcome {
        Ok(exit) => exit.into(),
        Err(error) => {
            eprintln!("archy: {error}");
            Exit::from(&error).into()
        }
    }
}
