//! `just chaos [N]`: every scenario N times against a live `archy serve` on
//! real Podman, each followed by the invariant checks; a Markdown and JSON
//! report under docs/reports/.

mod engine;
mod lab;
mod podman;
mod report;
mod rpc;
mod scenarios;
mod state_fs;
mod wait;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use clap::Parser;

use crate::lab::{Lab, Paths};
use crate::report::{Outcome, Report, ScenarioInfo};
use crate::scenarios::Scenario;

#[derive(Debug, Parser)]
#[command(about = "Chaos scenarios against a live Archy daemon on real Podman")]
struct Args {
    /// Iterations per scenario.
    #[arg(default_value_t = 1)]
    iterations: u32,
    /// Run only these scenarios (by name); default: all.
    #[arg(long = "only", value_name = "SCENARIO")]
    only: Vec<String>,
    /// The daemon binary under test.
    #[arg(long, default_value = "target/debug/archy")]
    archy: PathBuf,
    #[arg(long, default_value = "apps/demo")]
    catalog: PathBuf,
    #[arg(long, default_value = "rpc/dashboard")]
    dashboard: PathBuf,
    /// Where `chaos-report.md` and `chaos-report.json` are written.
    #[arg(long, default_value = "docs/reports")]
    report_dir: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("chaos: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Ctrl-C or SIGTERM drops the run, and with it the lab, whose Drop
    // removes the daemon, the engine service, the demo containers and the
    // tmpfs: an interrupted run leaves nothing behind.
    let interruptible = async {
        tokio::select! {
            result = run(args) => result,
            signal = interrupted() => Err(format!("{signal}: run interrupted, lab removed, no report")),
        }
    };
    match runtime.block_on(interruptible) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failures) => {
            eprintln!("chaos: {failures} failure(s)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("chaos: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

async fn run(args: Args) -> Result<usize, String> {
    let scenarios: Vec<Scenario> = Scenario::ALL
        .iter()
        .copied()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| o == s.name()))
        .collect();
    if scenarios.is_empty() {
        let names: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
        return Err(format!("no such scenario; known: {}", names.join(", ")));
    }
    let started = Instant::now();
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let mut lab = Lab::open(Paths {
        archy: args.archy,
        catalog: args.catalog,
        dashboard: args.dashboard,
    })
    .await?;
    eprintln!("chaos: daemon log at {}", lab.log_path().display());
    if let Err(e) = lab.set_up_fleet().await {
        // The engine is shared with other users of the machine: one retry.
        eprintln!("chaos: fleet set-up failed ({e}); retrying once");
        lab.restore().await?;
    }
    let setup_secs = started.elapsed().as_secs();
    eprintln!("chaos: fleet ready in {setup_secs} s");

    let mut outcomes = Vec::new();
    // Round by round, not scenario by scenario: two kills of a root child
    // then fall a round apart, with daemon restarts in between, so the
    // root's restart budget (3 a minute) needs no waiting.
    'run: for iteration in 1..=args.iterations {
        for &scenario in &scenarios {
            let outcome = match scenario.run(&mut lab, iteration).await {
                Ok(took) => Outcome {
                    scenario: scenario.name(),
                    iteration,
                    passed: true,
                    recovery_ms: Some(took.as_millis() as u64),
                    reason: None,
                },
                Err(reason) => Outcome {
                    scenario: scenario.name(),
                    iteration,
                    passed: false,
                    recovery_ms: None,
                    reason: Some(reason),
                },
            };
            eprintln!(
                "chaos: {} #{iteration}: {}",
                scenario.name(),
                outcome.reason.as_deref().map_or_else(
                    || format!("pass in {} ms", outcome.recovery_ms.unwrap_or_default()),
                    |r| format!("FAIL: {r}")
                )
            );
            let failed = !outcome.passed;
            outcomes.push(outcome);
            if failed {
                // The next iteration starts from the baseline fleet again.
                if let Err(e) = lab.restore().await {
                    eprintln!("chaos: {e}; stopping the run here");
                    break 'run;
                }
            }
        }
    }
    let report = Report {
        started_at,
        iterations: args.iterations,
        wall_secs: started.elapsed().as_secs(),
        setup_secs,
        scenarios: scenarios
            .iter()
            .map(|s| ScenarioInfo {
                name: s.name(),
                checks: s.checks(),
            })
            .collect(),
        outcomes,
    };
    report.write(&args.report_dir, "chaos-report")?;
    eprintln!(
        "chaos: {} run(s) in {} s; report in {}",
        report.outcomes.len(),
        report.wall_secs,
        args.report_dir.join("chaos-report.md").display()
    );
    Ok(report.failures())
}
