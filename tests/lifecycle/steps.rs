//! One app's full cycle, one timed step at a time. A failed step ends the
//! cycle; a cleanup step then purges the app so the next iteration starts clean.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::archy::Daemon;
use crate::catalog::GateApp;
use crate::engine::{self, ContainerId};
use crate::probe;
use crate::report::StepResult;

/// How long a started app may take to answer on its ports.
const REACH_DEADLINE: Duration = Duration::from_secs(30);
/// How long a failed install may take to remove what it created.
const ROLLBACK_DEADLINE: Duration = Duration::from_secs(30);
/// How long a purge may take to delete data, secrets and volumes.
const PURGE_DEADLINE: Duration = Duration::from_secs(30);
/// A UI companion follows its app's state on its own cadence, right after
/// the app's `--wait` returns: how long it may take.
const COMPANION_DEADLINE: Duration = Duration::from_secs(15);

type Step = Result<(), String>;

/// Runs every step of `app` for `iteration`, appending one result per step.
pub fn cycle(daemon: &mut Daemon, app: &GateApp, iteration: u32, results: &mut Vec<StepResult>) {
    let mut run = |name: &str, step: &mut dyn FnMut(&mut Daemon) -> Step| -> bool {
        let clock = Instant::now();
        let outcome = step(daemon);
        results.push(StepResult {
            app: app.id.clone(),
            iteration,
            step: name.to_string(),
            ok: outcome.is_ok(),
            millis: clock.elapsed().as_millis(),
            reason: outcome.err(),
        });
        results.last().is_some_and(|r| r.ok)
    };
    if app.must_fail {
        run("install fails, nothing left", &mut |d| {
            failsafe_install(d, app)
        });
        return;
    }
    let marker = format!("gate-marker-{iteration}");
    let completed = run("dependencies", &mut |d| {
        app.depends_on
            .iter()
            .try_for_each(|dep| ok(d.op("install", dep, &[]), "install", dep))
    }) && run("install", &mut |d| {
        ok(d.op("install", &app.id, &[]), "install", &app.id)?;
        all_running(&app.id).map(drop)
    }) && run("reachable", &mut |_| reachable(app))
        && run("stop", &mut |d| {
            ok(d.op("stop", &app.id, &[]), "stop", &app.id)?;
            none_running(&app.id)
        })
        && run("start", &mut |d| {
            ok(d.op("start", &app.id, &[]), "start", &app.id)?;
            all_running(&app.id)?;
            reachable(app)
        })
        && run("restart", &mut |d| restart(d, app))
        && run("daemon restart survived", &mut |d| daemon_restart(d, app))
        && run("reinstall keeps data", &mut |d| {
            reinstall_keeps_data(d, app, &marker)
        })
        && run("uninstall keeps data", &mut |d| {
            ok(d.op("uninstall", &app.id, &[]), "uninstall", &app.id)?;
            no_containers(&app.id)?;
            marker_present(d, app, &marker)
        })
        && run("purge", &mut |d| purge(d, app))
        && run("dependencies purged", &mut |d| purge_dependencies(d, app));
    if !completed {
        // Both, whatever the first says: a dependency left running would
        // hold its ports against the next run.
        run("cleanup after failure", &mut |d| {
            let app_purged = purge(d, app);
            let dependencies_purged = purge_dependencies(d, app);
            app_purged.and(dependencies_purged)
        });
    }
}

fn ok(outcome: crate::archy::CliOutcome, op: &str, app: &str) -> Step {
    if outcome.success {
        Ok(())
    } else {
        Err(format!(
            "archy {op} {app} --wait exited {:?}: {}",
            outcome.code, outcome.output
        ))
    }
}

fn reachable(app: &GateApp) -> Step {
    probe::wait_reachable(&app.endpoints, REACH_DEADLINE)?;
    all_running(&app.id).map(drop)
}

fn restart(daemon: &mut Daemon, app: &GateApp) -> Step {
    let before = engine::containers(&app.id)?;
    ok(daemon.op("restart", &app.id, &[]), "restart", &app.id)?;
    let after = all_running(&app.id)?;
    // Restarted means every container of the app started again after the
    // request; a UI companion follows the app's desired state (running →
    // running), so a restart leaves it be.
    for old in before.iter().filter(|c| !c.is_companion()) {
        if let Some(new) = after.iter().find(|c| c.id == old.id) {
            if new.started_at == old.started_at {
                return Err(format!("container {} was not restarted", short(&old.id)));
            }
        }
    }
    reachable(app)
}

/// SIGTERM the daemon: the containers keep running; the next daemon adopts
/// them as they are (same ids, same creation and start times).
fn daemon_restart(daemon: &mut Daemon, app: &GateApp) -> Step {
    let before = all_running(&app.id)?;
    daemon.stop()?;
    let during = engine::containers(&app.id)?;
    if during != before {
        return Err(format!(
            "containers changed while the daemon was down: {before:?} → {during:?}"
        ));
    }
    daemon.start()?;
    // An adopted app is running right away; wait on it through the CLI.
    ok(
        daemon.op("start", &app.id, &[]),
        "start (after daemon restart)",
        &app.id,
    )?;
    reachable(app)?;
    let after = engine::containers(&app.id)?;
    if after != before {
        return Err(format!(
            "containers recreated or restarted by the new daemon: {before:?} → {after:?}"
        ));
    }
    Ok(())
}

fn reinstall_keeps_data(daemon: &mut Daemon, app: &GateApp, marker: &str) -> Step {
    let path = marker_path(daemon, app, marker);
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new("/")))
        .and_then(|()| std::fs::write(&path, marker))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let secrets = secrets_of(daemon, app);
    ok(daemon.op("uninstall", &app.id, &[]), "uninstall", &app.id)?;
    no_containers(&app.id)?;
    ok(daemon.op("install", &app.id, &[]), "install", &app.id)?;
    all_running(&app.id)?;
    marker_present(daemon, app, marker)?;
    if secrets_of(daemon, app) != secrets {
        return Err("generated secrets changed across a reinstall".into());
    }
    reachable(app)
}

/// `uninstall --purge` of an app a plain uninstall already removed: its
/// state does not move, so `--wait` returns at once and the deletion is
/// awaited here.
fn purge(daemon: &mut Daemon, app: &GateApp) -> Step {
    ok(
        daemon.op("uninstall", &app.id, &["--purge"]),
        "uninstall --purge",
        &app.id,
    )?;
    let data = daemon.data_root(&app.id);
    let secrets = daemon.state_dir.join("secrets").join(&app.id);
    eventually(PURGE_DEADLINE, || {
        no_containers(&app.id)?;
        for dir in [&data, &secrets] {
            if dir.exists() {
                return Err(format!("{} still exists after purge", dir.display()));
            }
        }
        let volumes = engine::volumes(&app.id)?;
        if !volumes.is_empty() {
            return Err(format!("volumes left after purge: {volumes:?}"));
        }
        Ok(())
    })
}

/// Retries `check` until it passes or `deadline` passes (its last error).
fn eventually(deadline: Duration, mut check: impl FnMut() -> Step) -> Step {
    let end = Instant::now() + deadline;
    loop {
        match check() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > end => return Err(format!("after {deadline:?}: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn purge_dependencies(daemon: &mut Daemon, app: &GateApp) -> Step {
    for dep in &app.depends_on {
        ok(
            daemon.op("uninstall", dep, &["--purge"]),
            "uninstall --purge",
            dep,
        )?;
        no_containers(dep)?;
    }
    Ok(())
}

/// demo-crash exits 3 at once: the install must fail and roll back.
fn failsafe_install(daemon: &mut Daemon, app: &GateApp) -> Step {
    let outcome = daemon.op("install", &app.id, &[]);
    if outcome.success {
        return Err(format!(
            "install of {} succeeded; it must fail: {}",
            app.id, outcome.output
        ));
    }
    if !outcome.output.contains('3') {
        return Err(format!(
            "the failure does not name exit code 3: {}",
            outcome.output
        ));
    }
    eventually(ROLLBACK_DEADLINE, || no_containers(&app.id))?;
    let data = daemon.data_root(&app.id);
    if data.exists() {
        return Err(format!("{} left after the failed install", data.display()));
    }
    Ok(())
}

/// Every container of the app runs when `--wait` returns; its companions
/// follow within [`COMPANION_DEADLINE`].
fn all_running(app: &str) -> Result<Vec<ContainerId>, String> {
    let own: Vec<ContainerId> = engine::containers(app)?
        .into_iter()
        .filter(|c| !c.is_companion())
        .collect();
    if own.is_empty() {
        return Err(format!("{app} has no container"));
    }
    if let Some(stopped) = own.iter().find(|c| !c.running) {
        return Err(format!(
            "container {} of {app} is not running",
            short(&stopped.id)
        ));
    }
    eventually(COMPANION_DEADLINE, || companions_running(app, true))?;
    engine::containers(app)
}

/// No container of the app runs when `stop --wait` returns; its companions
/// stop within [`COMPANION_DEADLINE`].
fn none_running(app: &str) -> Step {
    let containers = engine::containers(app)?;
    if let Some(running) = containers.iter().find(|c| !c.is_companion() && c.running) {
        return Err(format!(
            "container {} of {app} still running after stop",
            short(&running.id)
        ));
    }
    eventually(COMPANION_DEADLINE, || companions_running(app, false))
}

fn companions_running(app: &str, running: bool) -> Step {
    match engine::containers(app)?
        .iter()
        .find(|c| c.is_companion() && c.running != running)
    {
        Some(c) => Err(format!(
            "companion container {} of {app} is {}",
            short(&c.id),
            if c.running {
                "still running"
            } else {
                "not running"
            }
        )),
        None => Ok(()),
    }
}

fn no_containers(app: &str) -> Step {
    let left = engine::containers(app)?;
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} container(s) of {app} left after uninstall",
            left.len()
        ))
    }
}

/// In the app's `data:` directory when it has one (what its container sees),
/// else in its data root.
fn marker_path(daemon: &Daemon, app: &GateApp, marker: &str) -> PathBuf {
    let root = daemon.data_root(&app.id);
    match &app.data_subdir {
        Some(sub) => root.join(sub).join(marker),
        None => root.join(marker),
    }
}

fn marker_present(daemon: &Daemon, app: &GateApp, marker: &str) -> Step {
    let path = marker_path(daemon, app, marker);
    match std::fs::read_to_string(&path) {
        Ok(text) if text == marker => Ok(()),
        Ok(text) => Err(format!("{} holds {text:?}", path.display())),
        Err(e) => Err(format!("{}: {e} (data lost)", path.display())),
    }
}

/// The app's generated secrets, name → value.
fn secrets_of(daemon: &Daemon, app: &GateApp) -> Vec<(String, String)> {
    let dir = daemon.state_dir.join("secrets").join(&app.id);
    let mut secrets: Vec<(String, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let value = std::fs::read_to_string(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), value)
        })
        .collect();
    secrets.sort();
    secrets
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}
