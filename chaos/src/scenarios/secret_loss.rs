//! A generated secret of a running app whose data exists is deleted (an
//! operator's slip, a bad backup restore). A database password is fixed
//! when its data is initialised: regenerating it would lock the app out.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::lab::{Lab, DATA_APP, DATA_APP_SECRET};
use crate::podman;
use crate::wait::until;

pub const CHECKS: &str = "demo-db's generated password is deleted under the running app: it is never regenerated (absent until restored, then the old value), demo-db is not bounced (same container id and start time), and the loss is reported with its remedy (`SecretError::MissingWithData`) in demo-db's status and in app.events; once the file is restored the status says so and the fleet converges";
/// One reconcile pass in the lab (5 s), with margin.
const NOTICED_WITHIN: Duration = Duration::from_secs(30);
const BOUND: Duration = Duration::from_secs(30);
/// What the product says about a lost secret (`MissingWithData`).
const MISSING: &str = "is now missing";

pub async fn run(lab: &mut Lab) -> Result<Duration, String> {
    let file = lab
        .state_dir
        .join("secrets")
        .join(DATA_APP)
        .join(DATA_APP_SECRET);
    let value = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let before = podman::own_containers(DATA_APP)?;
    std::fs::remove_file(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let deleted = Instant::now();
    let reported = until(NOTICED_WITHIN, || async {
        // Checked on every look: a regenerated value is broken for good.
        if file.exists() {
            return Ok(Err(format!("{} was regenerated", file.display())));
        }
        let reason = last_reason(lab).await?;
        if reason.contains(MISSING) {
            Ok(Ok(reason))
        } else {
            Err(format!("{DATA_APP}'s status says: {reason}"))
        }
    })
    .await;
    let took = deleted.elapsed();
    let journaled = match &reported {
        Ok(Ok(_)) => journaled(lab).await,
        _ => Ok(()),
    };
    restore(&file, &value)?;
    reported??;
    journaled?;
    until(BOUND, || async {
        let reason = last_reason(lab).await?;
        (!reason.contains(MISSING))
            .then_some(())
            .ok_or_else(|| format!("still reported missing: {reason}"))
    })
    .await?;
    lab.converge(BOUND).await?;
    if std::fs::read(&file).ok().as_deref() != Some(value.as_slice()) {
        return Err(format!("{} changed its value", file.display()));
    }
    let after = podman::own_containers(DATA_APP)?;
    if after != before {
        return Err(format!(
            "{DATA_APP} bounced: (id, started at) {before:?} became {after:?}"
        ));
    }
    Ok(took)
}

async fn last_reason(lab: &Lab) -> Result<String, String> {
    let status = lab.status_of(DATA_APP).await?;
    Ok(status["last_reason"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// The loss is in the app's event journal, where `archy events` shows it.
async fn journaled(lab: &Lab) -> Result<(), String> {
    let events = lab.call("app.events", json!({ "id": DATA_APP })).await?;
    let said = |e: &Value| {
        e.as_object().is_some_and(|o| {
            o.values()
                .any(|v| v.as_str().is_some_and(|t| t.contains(MISSING)))
        })
    };
    match events.as_array() {
        Some(events) if events.iter().any(said) => Ok(()),
        _ => Err(format!("the loss is not in app.events: {events}")),
    }
}

/// Put the scenario's copy back, private as the daemon keeps it.
fn restore(file: &Path, value: &[u8]) -> Result<(), String> {
    std::fs::write(file, value)
        .and_then(|()| std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)))
        .map_err(|e| format!("cannot restore {}: {e}", file.display()))
}
