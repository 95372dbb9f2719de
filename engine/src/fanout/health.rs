//! Node health derived from recent purge results: when each node last confirmed, and how many
//! of its last requests failed. Each instance keeps what its workers saw in memory and saves
//! what changed every few seconds (`crate::health_keeper`), so that a restart, the other
//! instances and `purger nodes list --health` see it too.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
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
    /// The health as stored: the window's `recent` outcomes in `outcome_bits` (newest in bit 0,
    /// 1 = failed; bits past the window are ignored).
    pub fn from_stored(
        last_success: Option<DateTime<Utc>>,
        last_failure: Option<(DateTime<Utc>, String)>,
        recent: u32,
        outcome_bits: u64,
    ) -> Self {
        let recent = recent.min(WINDOW);
        let bits = if recent == WINDOW {
            outcome_bits
        } else {
            outcome_bits & ((1u64 << recent) - 1)
        };
        Self {
            last_success,
            last_failure,
            recent,
            recent_failures: bits.count_ones(),
            bits,
        }
    }

    /// The window's outcomes, newest in bit 0 (1 = failed), as [`NodeHealth::from_stored`]
    /// takes them.
    pub fn outcome_bits(&self) -> u64 {
        self.bits
    }

    /// When it last answered or failed: which of two records of a node is newer.
    pub fn last_activity(&self) -> Option<DateTime<Utc>> {
        let failure = self.last_failure.as_ref().map(|(at, _)| *at);
        self.last_success.max(failure)
    }

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
        // Milliseconds, as stored: a saved record reads back equal to the one in memory.
        let at = crate::time::from_millis(crate::time::to_millis(at));
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

#[derive(Debug, Default)]
struct Book {
    nodes: HashMap<NodeId, NodeHealth>,
    /// Nodes recorded since the last [`HealthBook::take_changed`].
    changed: HashSet<NodeId>,
}

/// The health of every node this instance asked recently.
#[derive(Clone, Debug, Default)]
pub struct HealthBook(Arc<Mutex<Book>>);

impl HealthBook {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one request's outcome (`Some(reason)` when it failed).
    pub fn record(&self, node: NodeId, failure: Option<&str>, at: DateTime<Utc>) {
        let mut book = self.book();
        book.nodes.entry(node).or_default().record(failure, at);
        book.changed.insert(node);
    }

    /// A copy of what is known.
    pub fn snapshot(&self) -> HashMap<NodeId, NodeHealth> {
        self.book().nodes.clone()
    }

    /// What was recorded since the last call, to be saved.
    pub fn take_changed(&self) -> Vec<(NodeId, NodeHealth)> {
        let mut book = self.book();
        let changed = std::mem::take(&mut book.changed);
        changed
            .into_iter()
            .filter_map(|node| Some((node, book.nodes.get(&node)?.clone())))
            .collect()
    }

    /// Marks nodes as changed again (their save failed).
    pub fn mark_changed(&self, nodes: impl IntoIterator<Item = NodeId>) {
        self.book().changed.extend(nodes);
    }

    /// Takes in saved records where they are newer than this book's (at startup).
    pub fn adopt(&self, saved: HashMap<NodeId, NodeHealth>) {
        let mut book = self.book();
        for (node, health) in saved {
            match book.nodes.entry(node) {
                Entry::Occupied(mut mine) => {
                    if health.last_activity() > mine.get().last_activity() {
                        mine.insert(health);
                    }
                }
                Entry::Vacant(none) => {
                    none.insert(health);
                }
            }
        }
    }

    /// `saved` (every instance's records) with this book's newer records in their place.
    pub fn merged_with(
        &self,
        mut saved: HashMap<NodeId, NodeHealth>,
    ) -> HashMap<NodeId, NodeHealth> {
        let book = self.book();
        for (node, mine) in &book.nodes {
            let newer = saved
                .get(node)
                .is_none_or(|theirs| mine.last_activity() >= theirs.last_activity());
            if newer {
                saved.insert(*node, mine.clone());
            }
        }
        saved
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
        assert_eq!(
            health.last_success.map(crate::time::to_millis),
            Some(crate::time::to_millis(now))
        );
        assert_eq!(
            health.last_failure.as_ref().map(|(_, r)| r.as_str()),
            Some("timeout")
        );
    }

    #[test]
    fn a_stored_window_reads_back_as_it_was() {
        let book = HealthBook::default();
        let node = NodeId(7);
        let at = Utc::now();
        for i in 0..70 {
            book.record(node, (i % 3 == 0).then_some("503"), at);
        }
        let [(_, health)] = <[_; 1]>::try_from(book.take_changed()).expect("one changed");
        let stored = NodeHealth::from_stored(
            health.last_success,
            health.last_failure.clone(),
            health.recent,
            health.outcome_bits(),
        );
        assert_eq!(stored, health);
        assert!(book.take_changed().is_empty(), "taken once");
        let short = NodeHealth::from_stored(None, None, 3, u64::MAX);
        assert_eq!((short.recent, short.recent_failures), (3, 3));
    }

    #[test]
    fn the_newer_record_of_a_node_wins() {
        let earlier = Utc::now() - chrono::Duration::minutes(5);
        let later = Utc::now();
        let mine = HealthBook::default();
        mine.record(NodeId(1), None, later);
        mine.record(NodeId(2), None, earlier);
        let theirs = HealthBook::default();
        theirs.record(NodeId(1), Some("timeout"), earlier);
        theirs.record(NodeId(2), Some("timeout"), later);
        theirs.record(NodeId(3), Some("timeout"), later);
        let merged = mine.merged_with(theirs.snapshot());
        assert_eq!(merged[&NodeId(1)].recent_failures, 0, "mine is newer");
        assert_eq!(merged[&NodeId(2)].recent_failures, 1, "theirs is newer");
        assert_eq!(merged.len(), 3);
        mine.adopt(theirs.snapshot());
        assert_eq!(mine.snapshot(), merged);
    }
}
