//! The lifecycle gate: every demo app through install → reachable → stop →
//! start → restart → daemon restart → reinstall keeping data → uninstall →
//! purge, N times, through a real `archy serve` on real Podman. Writes the
//! matrix report; exits non-zero when anything failed. See docs/gate.md.

mod archy;
mod catalog;
mod engine;
mod probe;
mod report;
mod smoke;
mod steps;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use archy::Daemon;
use report::Report;

/// Gate order: a dependency before its dependant, the failsafe case last.
const APPS: &[&str] = &[
    "demo-web",
    "demo-db",
    "demo-api",
    "demo-stubborn",
    "demo-stack",
    "demo-crash",
];

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every demo app through its whole lifecycle, N times; writes the report.
    Gate(GateArgs),
    /// One app, once, in under a minute.
    Smoke(DaemonArgs),
}

#[derive(Debug, clap::Args)]
struct DaemonArgs {
    /// The `archy` binary under test.
    #[arg(long)]
    archy: PathBuf,
    #[arg(long, default_value = "apps/demo")]
    catalog: PathBuf,
    /// A fresh directory for the daemon's state (must not exist).
    #[arg(long)]
    state_dir: PathBuf,
    /// The daemon's failsafe verify window, in seconds.
    #[arg(long, default_value_t = 1.0)]
    verify_window_secs: f64,
}

#[derive(Debug, clap::Args)]
struct GateArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// Iterations of the whole cycle per app.
    #[arg(long, default_value_t = 20)]
    iterations: u32,
    /// A label for the report ("rootful", "rootless").
    #[arg(long)]
    mode: String,
    /// Report path without extension: `.md` and `.json` are written.
    #[arg(long)]
    report: PathBuf,
}

fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Command::Gate(args) => gate(&args),
        Command::Smoke(args) => new_daemon(&args)
            .and_then(|mut d| smoke::run(&mut d))
            .map(|()| true),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("gate: {e}");
            ExitCode::from(2)
        }
    }
}

/// A daemon on a fresh state directory.
fn new_daemon(args: &DaemonArgs) -> Result<Daemon, String> {
    if args.state_dir.exists() {
        return Err(format!(
            "{} exists; give a fresh state dir",
            args.state_dir.display()
        ));
    }
    std::fs::create_dir_all(&args.state_dir).map_err(|e| e.to_string())?;
    let state_dir = args.state_dir.canonicalize().map_err(|e| e.to_string())?;
    let catalog = args.catalog.canonicalize().map_err(|e| e.to_string())?;
    Daemon::new(
        args.archy.clone(),
        state_dir,
        catalog,
        args.verify_window_secs,
    )
}

fn gate(args: &GateArgs) -> Result<bool, String> {
    let apps = catalog::load(&args.daemon.catalog, APPS)?;
    for app in &apps {
        let left = engine::containers(&app.id)?;
        if !left.is_empty() {
            return Err(format!(
                "{} already has {} container(s) on this engine (another run?); remove them first",
                app.id,
                left.len()
            ));
        }
    }
    let mut daemon = new_daemon(&args.daemon)?;
    let started_utc = utc_now();
    let clock = Instant::now();
    daemon.start()?;

    let mut results = Vec::new();
    for iteration in 1..=args.iterations {
        for app in &apps {
            let before = results.len();
            steps::cycle(&mut daemon, app, iteration, &mut results);
            let failed: Vec<_> = results[before..]
                .iter()
                .filter(|r| !r.ok)
                .map(|r| r.step.clone())
                .collect();
            eprintln!(
                "gate {}: iteration {iteration}/{} {}: {}",
                args.mode,
                args.iterations,
                app.id,
                if failed.is_empty() {
                    "ok".to_string()
                } else {
                    format!("FAILED at {}", failed.join(", "))
                }
            );
        }
    }
    daemon.stop()?;

    let report = Report {
        mode: args.mode.clone(),
        iterations: args.iterations,
        started_utc,
        total_secs: clock.elapsed().as_secs_f64(),
        verify_window_secs: args.daemon.verify_window_secs,
        podman: podman_version(),
        daemon_log_alarms: archy::alarming_log_lines(&daemon.log),
        steps: results,
    };
    report.write(&args.report)?;
    eprintln!(
        "gate {}: {} in {:.0} s; report {}.md",
        args.mode,
        if report.passed() { "PASS" } else { "FAIL" },
        report.total_secs,
        args.report.display()
    );
    Ok(report.passed())
}

fn utc_now() -> String {
    command_line("date", &["-u", "+%Y-%m-%d %H:%M:%S"])
}

fn podman_version() -> String {
    command_line("podman", &["--version"])
}

fn command_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|e| format!("{program}: {e}"))
}
