//! Browser sessions: a random cookie value, its CSRF token and expiry, in memory
//! (a daemon restart logs everyone out, which is the safe direction).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::private_file::random_secret;

pub(crate) struct Sessions {
    ttl: Duration,
    live: Mutex<HashMap<String, Session>>,
}

struct Session {
    csrf: String,
    expires: Instant,
    /// Set to true on logout, so open WebSockets of the session close.
    revoked: watch::Sender<bool>,
}

/// What a request learns about its session.
#[derive(Clone)]
pub(crate) struct SessionView {
    pub(crate) csrf: String,
    pub(crate) revoked: watch::Receiver<bool>,
}

/// A new session's cookie value and CSRF token.
pub(crate) struct NewSession {
    pub(crate) token: String,
    pub(crate) csrf: String,
}

impl Sessions {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            live: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    pub(crate) fn create(&self) -> NewSession {
        let session = NewSession {
            token: random_secret(),
            csrf: random_secret(),
        };
        let now = Instant::now();
        let mut live = self.lock();
        live.retain(|_, session| session.expires > now);
        live.insert(
            session.token.clone(),
            Session {
                csrf: session.csrf.clone(),
                expires: now + self.ttl,
                revoked: watch::Sender::new(false),
            },
        );
        session
    }

    /// The live session behind a cookie value, if any.
    pub(crate) fn get(&self, token: &str) -> Option<SessionView> {
        let mut live = self.lock();
        let session = live.get(token)?;
        if session.expires <= Instant::now() {
            live.remove(token);
            return None;
        }
        Some(SessionView {
            csrf: session.csrf.clone(),
            revoked: session.revoked.subscribe(),
        })
    }

    pub(crate) fn revoke(&self, token: &str) {
        if let Some(session) = self.lock().remove(token) {
            session.revoked.send_replace(true);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sessions_expire_after_their_ttl() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let session = sessions.create();
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(
            sessions.get(&session.token).map(|s| s.csrf),
            Some(session.csrf)
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(sessions.get(&session.token).is_none());
    }

    #[tokio::test]
    async fn revoking_tells_open_connections() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let session = sessions.create();
        let mut revoked = sessions.get(&session.token).unwrap().revoked;
        sessions.revoke(&session.token);
        assert!(revoked.wait_for(|revoked| *revoked).await.is_ok());
        assert!(sessions.get(&session.token).is_none());
    }
}
