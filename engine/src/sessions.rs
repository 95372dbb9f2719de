//! Dashboard sign-in: password checks with throttling, and session tokens.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;

/// Failed sign-ins per user name before it is locked for [`LOCKOUT`].
pub const MAX_FAILURES: u32 = 5;
/// How long a user name stays locked after too many failures.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// A new random session token (32 bytes, base64url).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Counts failed sign-ins per user name in memory.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    /// Whether `username` may try now.
    pub fn allows(&self, username: &str) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match failures.get(username) {
            Some((count, since)) => *count < MAX_FAILURES || since.elapsed() >= LOCKOUT,
            None => true,
        }
    }

    /// Records a failure.
    pub fn failed(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > 100_000 {
            failures.retain(|_, (_, since)| since.elapsed() < LOCKOUT);
        }
        let entry = failures
            .entry(username.to_owned())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= LOCKOUT {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    /// Clears the count after a success.
    pub fn succeeded(&self, username: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_locks_after_repeated_failures_and_a_success_resets_it() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES {
            assert!(throttle.allows("alice"));
            throttle.failed("alice");
        }
        assert!(!throttle.allows("alice"));
        assert!(throttle.allows("bob"));
        throttle.succeeded("alice");
        assert!(throttle.allows("alice"));
    }

    #[test]
    fn tokens_are_long_and_random() {
        let token = new_token();
        assert_eq!(token.len(), 43);
        assert_ne!(token, new_token());
    }
}
