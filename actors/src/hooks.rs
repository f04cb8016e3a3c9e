//! `hooks.post_install`: commands run once inside an app's container right
//! after a fresh install (e.g. create the database schema). Each is bounded
//! by its timeout; its exit code and output go to the event journal, and a
//! failing one fails the install with its reason.

use std::time::{Duration, SystemTime};

use archy_apps::{Hook, Manifest};
use archy_runtime::{ContainerRuntime, ExecOutput, RuntimeError};

use crate::app::render::container_name;
use crate::app::{AppState, InstallPhase};
use crate::secrets::{Secret, SecretSource};
use crate::store::{Journal, Transition};

/// Output kept in the journal and in an error: the end, where the cause is.
const OUTPUT_TAIL: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("post_install hook `{cmd}` in {container} exited with code {code}: {output}")]
    Failed {
        container: String,
        cmd: String,
        code: i64,
        output: String,
    },
    #[error("post_install hook `{cmd}` in {container} did not finish within {} s", timeout.as_secs())]
    TimedOut {
        container: String,
        cmd: String,
        timeout: Duration,
    },
    #[error("post_install hook `{cmd}` in {container} could not run: {source}")]
    Engine {
        container: String,
        cmd: String,
        #[source]
        source: RuntimeError,
    },
}

/// Run the manifest's post_install hooks in order, each in its member
/// (default: the first), skipping those whose member was not freshly
/// created by this install (an adopted or replaced container already had
/// its hooks run). Stops at the first failure. The app's own secret values
/// are masked in the output kept (a hook may echo its configuration).
pub async fn run_post_install(
    runtime: &dyn ContainerRuntime,
    journal: &Journal,
    secrets: &dyn SecretSource,
    manifest: &Manifest,
    fresh_members: &[String],
) -> Result<(), HookError> {
    let first = manifest.members().first().map(|m| m.name.to_string());
    let own: Vec<Secret> = manifest
        .generated_secrets
        .iter()
        .filter_map(|s| secrets.get(&manifest.id, &s.name))
        .collect();
    for hook in &manifest.hooks.post_install {
        let Some(member) = hook.member.clone().or_else(|| first.clone()) else {
            continue;
        };
        if fresh_members.contains(&member) {
            run_one(runtime, journal, manifest, &member, hook, &own).await?;
        }
    }
    Ok(())
}

async fn run_one(
    runtime: &dyn ContainerRuntime,
    journal: &Journal,
    manifest: &Manifest,
    member: &str,
    hook: &Hook,
    secrets: &[Secret],
) -> Result<(), HookError> {
    let container = container_name(manifest, member);
    let cmd = hook.cmd.join(" ");
    let timeout = Duration::from_secs(hook.timeout_secs);
    let exec = tokio::time::timeout(timeout, runtime.exec(&container, &hook.cmd)).await;
    let result = match exec.map(|r| r.map(|out| masked(out, secrets))) {
        Err(_) => Err(HookError::TimedOut {
            container,
            cmd,
            timeout,
        }),
        Ok(Err(source)) => Err(HookError::Engine {
            container,
            cmd,
            source,
        }),
        Ok(Ok(ExecOutput {
            exit_code: 0,
            output,
        })) => {
            record(
                journal,
                manifest,
                format!(
                    "post_install hook `{cmd}` in {container} exited with code 0: {}",
                    tail(&output)
                ),
            );
            Ok(())
        }
        Ok(Ok(ExecOutput { exit_code, output })) => Err(HookError::Failed {
            container,
            cmd,
            code: exit_code,
            output: tail(&output).to_string(),
        }),
    };
    if let Err(e) = &result {
        record(journal, manifest, e.to_string());
    }
    result
}

/// A journal entry in the phase the hooks run in (after verify).
fn record(journal: &Journal, manifest: &Manifest, reason: String) {
    let state = AppState::installing(InstallPhase::Verifying).to_string();
    let entry = Transition {
        app: manifest.id.clone(),
        from_state: state.clone(),
        to_state: state,
        reason,
    };
    journal.append(entry, SystemTime::now());
}

fn masked(mut out: ExecOutput, secrets: &[Secret]) -> ExecOutput {
    for secret in secrets.iter().filter(|s| !s.expose().is_empty()) {
        out.output = out.output.replace(secret.expose(), "<redacted>");
    }
    out
}

fn tail(output: &str) -> &str {
    let output = output.trim_end();
    let mut start = output.len().saturating_sub(OUTPUT_TAIL);
    while !output.is_char_boundary(start) {
        start += 1;
    }
    &output[start..]
}
