//! Batches, tasks and node results as stored and reported.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{BatchId, TaskId};
use crate::target::{PurgeMode, Target, TargetError, TargetKind};
use crate::users::UserId;

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Accepted, waiting for a worker.
    Created,
    /// A worker is asking the nodes.
    Running,
    /// Every node confirmed.
    Success,
    /// At least one node still failed after retries.
    Failed,
}

impl TaskStatus {
    /// The stored and reported name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Created => "created",
            TaskStatus::Running => "running",
            TaskStatus::Success => "success",
            TaskStatus::Failed => "failed",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "created" => Some(TaskStatus::Created),
            "running" => Some(TaskStatus::Running),
            "success" => Some(TaskStatus::Success),
            "failed" => Some(TaskStatus::Failed),
            _ => None,
        }
    }

    /// Whether the task has ended.
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Success | TaskStatus::Failed)
    }
}

/// A stored task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Its id.
    pub id: TaskId,
    /// Monotonic sequence number (keyset paging).
    pub seq: i64,
    /// The submission it belongs to.
    pub batch_id: BatchId,
    /// Who submitted it.
    pub user_id: UserId,
    /// The domain the target is on.
    pub domain_id: i64,
    /// URL, prefix, regex, tag or everything.
    pub kind: TargetKind,
    /// The target as the client sent it (a tag's name; `*` for everything).
    pub target: String,
    /// The host of a tag or everything task (URL kinds carry theirs in the target).
    pub host: Option<String>,
    /// Delete or invalidate.
    pub mode: PurgeMode,
    /// The edge groups it goes to; empty for every group of its domain.
    pub groups: Vec<String>,
    /// After a node confirms the purge, fetch the URL through it and check its `Age`.
    pub verify: bool,
    /// After a node confirms the purge, fetch the URL through it so that it holds it again.
    pub prefetch_after: bool,
    /// Nodes (by index) that confirmed but whose answer had no `Age` to verify.
    pub unverified: Vec<u32>,
    /// Nodes (by index) that confirmed the purge but whose warming fetch failed.
    pub unprefetched: Vec<u32>,
    /// Nodes that fetched the URL again after the purge.
    pub prefetched: u32,
    /// The seed-000 client's task id, if it sent one.
    pub client_task_id: Option<String>,
    /// Current status.
    pub status: TaskStatus,
    /// The frozen node set, once the task started.
    pub node_set_id: Option<i64>,
    /// Nodes in the node set.
    pub total: u32,
    /// Nodes confirmed.
    pub success: u32,
    /// Nodes failed for good.
    pub failed: u32,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When a worker first started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where its result is posted when it ends.
    pub callback_url: Option<String>,
}

impl TaskRecord {
    /// Whether a node that confirmed the purge is then asked for the URL (to verify or warm).
    pub fn follows_up(&self) -> bool {
        self.kind == TargetKind::Url && (self.verify || self.prefetch_after)
    }

    /// The target, parsed again (for its host and the requests edges get).
    pub fn parsed_target(&self) -> Result<Target, TargetError> {
        Target::parse_on(self.kind, &self.target, self.host.as_deref())
    }

    /// The host whose cache the task purges: its own for tags and everything, else the
    /// target's (empty when the stored target no longer parses).
    pub fn host(&self) -> String {
        match &self.host {
            Some(host) => host.clone(),
            None => self
                .parsed_target()
                .map(|target| target.host().to_owned())
                .unwrap_or_default(),
        }
    }
}

/// Why a node failed: the `failed_status` key of seed 000.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FailureReason(pub String);

impl FailureReason {
    /// The request timed out.
    pub fn timeout() -> Self {
        Self("timeout".into())
    }
    /// The node refused the connection.
    pub fn connect_refused() -> Self {
        Self("connect_refused".into())
    }
    /// Any other transport failure (reset, DNS, TLS, broken response).
    pub fn connect_error() -> Self {
        Self("connect_error".into())
    }
    /// The node confirmed the purge but still served the old object (its `Age` is older than
    /// the purge).
    pub fn stale() -> Self {
        Self("stale".into())
    }
    /// The node's protocol cannot express the target.
    pub fn unsupported() -> Self {
        Self("unsupported".into())
    }
    /// The node answered with an HTTP status that is not success.
    pub fn status(code: u16) -> Self {
        Self(code.to_string())
    }
    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A node that failed for a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFailure {
    /// Index of the node in the task's node set.
    pub node_index: u32,
    /// The reason key.
    pub reason: FailureReason,
    /// How many requests were sent to it.
    pub attempts: u32,
    /// A human-readable detail for the dashboard.
    pub detail: String,
}

/// One set bit per confirmed node of a task's node set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeBitmap(Vec<u8>);

impl NodeBitmap {
    /// All clear, for `len` nodes.
    pub fn new(len: usize) -> Self {
        Self(vec![0; len.div_ceil(8)])
    }
    /// From stored bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    /// The stored bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// Whether node `index` is set.
    pub fn get(&self, index: usize) -> bool {
        self.0
            .get(index / 8)
            .is_some_and(|byte| byte & (1 << (index % 8)) != 0)
    }
    /// Sets node `index`.
    pub fn set(&mut self, index: usize) {
        if self.0.len() <= index / 8 {
            self.0.resize(index / 8 + 1, 0);
        }
        self.0[index / 8] |= 1 << (index % 8);
    }
    /// Clears node `index`.
    pub fn clear(&mut self, index: usize) {
        if let Some(byte) = self.0.get_mut(index / 8) {
            *byte &= !(1 << (index % 8));
        }
    }
    /// How many nodes are set.
    pub fn count(&self) -> usize {
        self.0.iter().map(|byte| byte.count_ones() as usize).sum()
    }
}

/// A task's progress, published after it is written to the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressEvent {
    /// The task.
    pub task_id: TaskId,
    /// Its batch.
    pub batch_id: BatchId,
    /// Its owner (subscribers filter on it).
    pub user_id: UserId,
    /// Status now.
    pub status: TaskStatus,
    /// Nodes in the node set.
    pub total: u32,
    /// Nodes confirmed.
    pub success: u32,
    /// Nodes failed for good.
    pub failed: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_set_get_and_count() {
        let mut bitmap = NodeBitmap::new(301);
        assert_eq!(bitmap.as_bytes().len(), 38);
        bitmap.set(0);
        bitmap.set(300);
        bitmap.set(300);
        assert!(bitmap.get(0) && bitmap.get(300) && !bitmap.get(1));
        assert_eq!(bitmap.count(), 2);
        let back = NodeBitmap::from_bytes(bitmap.as_bytes().to_vec());
        assert!(back.get(300));
        assert!(!NodeBitmap::default().get(5));
    }

    #[test]
    fn statuses_round_trip() {
        for status in [
            TaskStatus::Created,
            TaskStatus::Running,
            TaskStatus::Success,
            TaskStatus::Failed,
        ] {
            assert_eq!(TaskStatus::parse(status.as_str()), Some(status));
        }
        assert!(TaskStatus::Failed.is_final() && !TaskStatus::Running.is_final());
    }
}
