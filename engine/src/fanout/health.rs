//! Node health derived from recent purge results: when each node last confirmed, and how many
//! of its last requests failed. Kept in memory per instance: it describes the recent past.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::fleet::NodeId;

/// How many recent requests the failure rate covers.
const WINDOW: u32 = 64;

/// What is known of one node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeHealth {
    /// When it last confirmed a purge.
    pub last_success: Option<DateTime<Utc>>,
    /// When it last failed, and why.
    pub last_failure: Option<(DateTime<Utc>, String)>,
    /// Requests in the window (at most 64).
    pub recent: u32,
    /// Failed requests in the window.
    pub recent_failures: u32,
    /// Outcomes of the window, newest in bit 0 (1 = failed).
    #[serde(skip)]
    bits: u64,
}

impl NodeHealth {
    /// Failed share of the recent requests, 0.0 to 1.0.
    pub fn failure_rate(&self) -> f64 {
        if self.recent == 0 {
            0.0
        } else {
            f64::from(self.recent_failures) / f64::from(self.recent)
        }
    }

    /// The outcomes of the recent requests, newest first: `true` for a failure.
    pub fn outcomes(&self) -> impl Iterator<Item = bool> + '_ {
        (0..self.recent).map(move |i| (self.bits >> i) & 1 == 1)
    }

    fn record(&mut self, failure: Option<&str>, at: DateTime<Utc>) {
        let oldest_failed = self.recent == WINDOW && (self.bits >> (WINDOW - 1)) & 1 == 1;
        self.bits = (self.bits << 1) | u64::from(failure.is_some());
        if self.recent < WINDOW {
            self.recent += 1;
        } else if oldest_failed {
            self.recent_failures -= 1;
        }
        match failure {
            Some(reason) => {
                self.recent_failures += 1;
                self.last_failure = Some((at, reason.to_owned()));
            }
            None => self.last_success = Some(at),
        }
    }
}

/// The health of every node this instance asked recently.
#[derive(Clone, Debug, Default)]
pub struct HealthBook(Arc<Mutex<HashMap<NodeId, NodeHealth>>>);

impl HealthBook {
    /// Records one request's outcome (`Some(reason)` when it failed).
    pub fn record(&self, node: NodeId, failure: Option<&str>, at: DateTime<Utc>) {
        let mut book = self.0.lock().unwrap_or_else(|p| p.into_inner());
        book.entry(node).or_default().record(failure, at);
    }

    /// What is known of one node.
    pub fn get(&self, node: NodeId) -> Option<NodeHealth> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&node)
            .cloned()
    }

    /// A copy of what is known.
    pub fn snapshot(&self) -> HashMap<NodeId, NodeHealth> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_covers_the_last_64_requests() {
        let book = HealthBook::default();
        let node = NodeId(1);
        let now = Utc::now();
        for _ in 0..64 {
            book.record(node, Some("timeout"), now);
        }
        assert_eq!(book.snapshot()[&node].failure_rate(), 1.0);
        for _ in 0..32 {
            book.record(node, None, now);
        }
        let health = &book.snapshot()[&node];
        assert_eq!((health.recent, health.recent_failures), (64, 32));
        assert_eq!(health.failure_rate(), 0.5);
        let outcomes: Vec<bool> = health.outcomes().collect();
        assert_eq!(outcomes.len(), 64);
        assert!(outcomes[..32].iter().all(|failed| !failed));
        assert!(outcomes[32..].iter().all(|failed| *failed));
        assert_eq!(health.last_success, Some(now));
        assert_eq!(
            health.last_failure.as_ref().map(|(_, r)| r.as_str()),
            Some("timeout")
        );
    }
}
