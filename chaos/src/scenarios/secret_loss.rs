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

pub const CHECKS: &str = "demo-db's generated password is deleted under the running app: it is never regenerated (absent until restored, then the old value), demo-db is not bounced (same container id and start time), and the loss is reported with its remedy (`SecretError::MissingWithData`) in app.events (`archy events`) and the daemon log; once the file is restored app.events says so and the fleet converges";
/// One reconcile pass in the lab (5 s), with margin.
const NOTICED_WITHIN: Duration = Duration::from_secs(30);
const BOUND: Duration = Duration::from_secs(30);
/// What the product says about a lost secret (`MissingWithData`).
const MISSING: &str = "is now missing";
/// What it says once the file is back.
const BACK: &str = "its missing secret is back";

pub async fn run(lab: &mut Lab) -> Result<Duration, String> {
    let file = lab
        .state_dir
        .join("secrets")
        .join(DATA_APP)
        .join(DATA_APP_SECRET);
    let value = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let before = podman::own_containers(DATA_APP)?;
    // Earlier rounds' reports are in the journal too: look only past them.
    let since = last_seq(lab).await?;
    std::fs::remove_file(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let deleted = Instant::now();
    // The journal, not the status's last reason: a health transition may
    // overwrite that a moment after the report.
    let reported = until(NOTICED_WITHIN, || async {
        // Checked on every look: a regenerated value is broken for good.
        if file.exists() {
            return Ok(Err(format!("{} was regenerated", file.display())));
        }
        journaled(lab, since, MISSING).await.map(Ok)
    })
    .await;
    let took = deleted.elapsed();
    restore(&file, &value)?;
    reported??;
    until(BOUND, || journaled(lab, since, BACK)).await?;
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

/// The newest journal entry's sequence number for the app (0: none yet).
async fn last_seq(lab: &Lab) -> Result<u64, String> {
    let events = lab.call("app.events", json!({ "id": DATA_APP })).await?;
    Ok(events
        .as_array()
        .and_then(|events| events.last())
        .and_then(|e| e["seq"].as_u64())
        .unwrap_or(0))
}

/// `app.events` (what `archy events` shows) has an entry after `since`
/// saying `text`.
async fn journaled(lab: &Lab, since: u64, text: &str) -> Result<(), String> {
    let events = lab
        .call("app.events", json!({ "id": DATA_APP, "since": since }))
        .await?;
    let said = |e: &Value| {
        e.as_object().is_some_and(|o| {
            o.values()
                .any(|v| v.as_str().is_some_and(|t| t.contains(text)))
        })
    };
    match events.as_array() {
        Some(events) if events.iter().any(said) => Ok(()),
        _ => Err(format!("app.events of {DATA_APP} has no \"{text}\"")),
    }
}

/// Put the scenario's copy back, private as the daemon keeps it.
fn restore(file: &Path, value: &[u8]) -> Result<(), String> {
    std::fs::write(file, value)
        .and_then(|()| std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)))
        .map_err(|e| format!("cannot restore {}: {e}", file.display()))
}
