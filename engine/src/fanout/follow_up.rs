//! What happens after a node confirms a URL's purge when the task asked for more: the URL is
//! fetched through that node, to verify that the node let the old object go (its `Age` must not
//! be older than the purge) and to warm it again for the first visitor.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::time::Instant;

use super::http1::PreparedRequest;
use crate::tasks::TaskRecord;

/// The slack between an edge's whole-second `Age` and the time since it confirmed the purge.
const AGE_TOLERANCE_SECS: u64 = 1;

/// How a node's answer to the fetch after its purge is judged.
#[derive(Debug, PartialEq, Eq)]
pub enum FetchVerdict {
    /// The object is newer than the purge (or not checked): the node is confirmed.
    Fresh,
    /// No `Age` to check: the node is confirmed, and counted unverified.
    Unverified,
    /// The object is older than the purge: the node kept the old copy.
    Stale(String),
}

/// The fetches after the purges of one task.
#[derive(Debug)]
pub struct FollowUp {
    /// `GET` of the URL with its `Host`, the same for every node.
    pub request: Arc<PreparedRequest>,
    verify: bool,
    prefetch: bool,
    /// Nodes whose purge was confirmed and whose fetch is due, with when the purge was confirmed.
    due: HashMap<u32, Instant>,
    /// Nodes confirmed without an `Age` to verify.
    pub unverified: Vec<u32>,
    /// Nodes confirmed whose warming fetch failed.
    pub unprefetched: Vec<u32>,
    /// Nodes that fetched the URL again.
    pub prefetched: u32,
}

impl FollowUp {
    /// The follow-up of `task`, when it asks for one, fetching with `request`.
    pub fn of(task: &TaskRecord, request: Arc<PreparedRequest>) -> Option<Self> {
        task.follows_up().then(|| Self {
            request,
            verify: task.verify,
            prefetch: task.prefetch_after,
            due: HashMap::new(),
            unverified: task.unverified.clone(),
            unprefetched: task.unprefetched.clone(),
            prefetched: task.prefetched,
        })
    }

    /// Node `index` confirmed its purge at `at`: its fetch is due.
    pub fn start(&mut self, index: u32, at: Instant) {
        self.due.insert(index, at);
    }

    /// Whether node `index` is at its fetch (rather than its purge).
    pub fn is_due(&self, index: u32) -> bool {
        self.due.contains_key(&index)
    }

    /// Whether a node whose fetch failed for good still counts as confirmed: yes when the fetch
    /// only warmed (the purge itself held), no when it verified.
    pub fn failure_keeps_the_purge(&self) -> bool {
        !self.verify
    }

    /// Node `index` fetched the URL, answering with this `Age` (seconds); the fetch is done.
    pub fn judge(&mut self, index: u32, age: Option<u64>, now: Instant) -> FetchVerdict {
        let purged_at = self.due.remove(&index).unwrap_or(now);
        let verdict = match (self.verify, age) {
            (false, _) => FetchVerdict::Fresh,
            (true, None) => FetchVerdict::Unverified,
            (true, Some(age)) => {
                let since = now.duration_since(purged_at).as_secs();
                if age > since + AGE_TOLERANCE_SECS {
                    FetchVerdict::Stale(format!(
                        "Age: {age} s, {since} s after the node confirmed the purge: it kept the old copy"
                    ))
                } else {
                    FetchVerdict::Fresh
                }
            }
        };
        match verdict {
            FetchVerdict::Unverified => self.unverified.push(index),
            FetchVerdict::Stale(_) => return verdict,
            FetchVerdict::Fresh => {}
        }
        if self.prefetch {
            self.prefetched += 1;
        }
        verdict
    }

    /// Node `index`'s fetch failed for good: it is no longer due; when only warming, the node is
    /// confirmed without being prefetched.
    pub fn give_up(&mut self, index: u32) {
        if self.due.remove(&index).is_some() && self.failure_keeps_the_purge() {
            self.unprefetched.push(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fanout::protocol::EdgeRequest;
    use crate::ids::{BatchId, TaskId};
    use crate::target::TargetKind;
    use crate::tasks::TaskStatus;
    use crate::users::UserId;

    fn follow_up(verify: bool, prefetch: bool) -> FollowUp {
        let task = TaskRecord {
            id: TaskId::generate(),
            seq: 1,
            batch_id: BatchId::generate(),
            user_id: UserId(1),
            domain_id: 1,
            kind: TargetKind::Url,
            target: "http://a.com/x".into(),
            host: None,
            mode: Default::default(),
            groups: Vec::new(),
            verify,
            prefetch_after: prefetch,
            unverified: Vec::new(),
            unprefetched: Vec::new(),
            prefetched: 0,
            client_task_id: None,
            status: TaskStatus::Running,
            node_set_id: Some(1),
            total: 3,
            success: 0,
            failed: 0,
            created_at: chrono::Utc::now(),
            started_at: None,
            finished_at: None,
            callback_url: None,
        };
        let request = EdgeRequest {
            method: "GET".into(),
            path: "/x".into(),
            host: "a.com".into(),
            headers: Vec::new(),
        };
        FollowUp::of(&task, Arc::new(PreparedRequest::new(&request).unwrap())).unwrap()
    }

    #[test]
    fn an_object_older_than_the_purge_is_stale_and_one_without_age_unverified() {
        let mut check = follow_up(true, false);
        let purged = Instant::now();
        for index in 0..3 {
            check.start(index, purged);
        }
        let later = purged + std::time::Duration::from_secs(2);
        assert_eq!(
            check.judge(0, Some(3), later),
            FetchVerdict::Fresh,
            "within a second"
        );
        assert!(
            matches!(check.judge(1, Some(40), later), FetchVerdict::Stale(detail) if detail.starts_with("Age: 40 s"))
        );
        assert_eq!(check.judge(2, None, later), FetchVerdict::Unverified);
        assert_eq!((check.unverified.clone(), check.prefetched), (vec![2], 0));
        assert!(!check.is_due(0) && !check.failure_keeps_the_purge());
    }

    #[test]
    fn a_warming_fetch_counts_prefetched_and_never_judges_age() {
        let mut warm = follow_up(false, true);
        warm.start(0, Instant::now());
        assert!(warm.is_due(0));
        assert_eq!(
            warm.judge(0, Some(999), Instant::now()),
            FetchVerdict::Fresh
        );
        assert_eq!(warm.prefetched, 1);
        assert!(warm.failure_keeps_the_purge());
        warm.start(1, Instant::now());
        warm.give_up(1);
        assert_eq!((warm.prefetched, warm.unprefetched.clone()), (1, vec![1]));
    }
}
