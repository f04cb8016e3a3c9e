//! Defaults the schema fills in, and the stop-grace table (invariant 7).

use std::time::Duration;

use crate::Tier;

/// How long an app gets between SIGTERM and SIGKILL when its manifest does
/// not say. Order matters: a bitcoin database member still gets bitcoin's
/// 600 s, while a btcpay database member gets the database 120 s.
pub fn stop_grace(app_id: &str, tier: Tier) -> Duration {
    let secs = if app_id.starts_with("bitcoin") {
        600 // flushing the UTXO cache of a full node takes minutes
    } else if app_id.starts_with("lnd") {
        330 // lnd's own shutdown budget is 300 s plus channel-db sync
    } else if app_id.starts_with("electrumx") || app_id.starts_with("electrs") {
        300
    } else if tier == Tier::Database {
        120
    } else if app_id.starts_with("fedimint") || app_id.starts_with("btcpay") {
        60
    } else {
        30
    };
    Duration::from_secs(secs)
}

pub const HOST_IP: &str = "127.0.0.1";
pub const CONTAINERFILE: &str = "Containerfile";
pub const SECRET_LENGTH: usize = 32;
pub const DERIVED_FILE_MODE: u32 = 0o600;
pub const RESTART_MAX_ATTEMPTS: u32 = 5;
pub const BACKOFF_INITIAL_SECS: u64 = 5;
pub const BACKOFF_MAX_SECS: u64 = 300;
pub const HOOK_TIMEOUT_SECS: u64 = 60;
pub const HEALTH_INTERVAL_SECS: u64 = 10;
pub const HEALTH_TIMEOUT_SECS: u64 = 5;
pub const HEALTH_RETRIES: u32 = 3;
pub const HEALTH_START_PERIOD_SECS: u64 = 30;
pub const HTTP_PATH: &str = "/";
pub const HTTP_STATUS: u16 = 200;

// serde wants functions for non-Default defaults.
pub(crate) fn host_ip() -> String {
    HOST_IP.to_string()
}
pub(crate) fn containerfile() -> String {
    CONTAINERFILE.to_string()
}
pub(crate) fn secret_length() -> usize {
    SECRET_LENGTH
}
pub(crate) fn yes() -> bool {
    true
}
pub(crate) fn restart_max_attempts() -> u32 {
    RESTART_MAX_ATTEMPTS
}
pub(crate) fn backoff_initial_secs() -> u64 {
    BACKOFF_INITIAL_SECS
}
pub(crate) fn backoff_max_secs() -> u64 {
    BACKOFF_MAX_SECS
}
pub(crate) fn hook_timeout_secs() -> u64 {
    HOOK_TIMEOUT_SECS
}
pub(crate) fn health_interval_secs() -> u64 {
    HEALTH_INTERVAL_SECS
}
pub(crate) fn health_timeout_secs() -> u64 {
    HEALTH_TIMEOUT_SECS
}
pub(crate) fn health_retries() -> u32 {
    HEALTH_RETRIES
}
pub(crate) fn health_start_period_secs() -> u64 {
    HEALTH_START_PERIOD_SECS
}
pub(crate) fn http_path() -> String {
    HTTP_PATH.to_string()
}
pub(crate) fn http_status() -> u16 {
    HTTP_STATUS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(app: &str, tier: Tier) -> u64 {
        stop_grace(app, tier).as_secs()
    }

    #[test]
    fn grace_table_follows_the_documented_order() {
        assert_eq!(secs("bitcoin-knots", Tier::Backend), 600);
        assert_eq!(secs("bitcoin-core", Tier::Database), 600);
        assert_eq!(secs("lnd", Tier::Backend), 330);
        assert_eq!(secs("electrumx", Tier::Backend), 300);
        assert_eq!(secs("electrs", Tier::App), 300);
        assert_eq!(secs("btcpay-server", Tier::Database), 120);
        assert_eq!(secs("immich", Tier::Database), 120);
        assert_eq!(secs("fedimint", Tier::App), 60);
        assert_eq!(secs("btcpay-server", Tier::App), 60);
        assert_eq!(secs("filebrowser", Tier::App), 30);
        assert_eq!(secs("demo-web", Tier::Ui), 30);
    }
}
