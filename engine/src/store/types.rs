//! What goes into and comes out of a [`Store`](super::Store).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::fleet::{EdgeGroup, EdgeNode, NodeTarget};
use crate::ids::{BatchId, TaskId};
use crate::key_scope::KeyScope;
use crate::quota::QuotaUsage;
use crate::target::{DomainName, PurgeMode, TargetKind};
use crate::tasks::{NodeBitmap, NodeFailure, TaskRecord, TaskStatus};
use crate::users::{QuotaLimits, QuotaOverrides, Role, UserId};

/// A stored API key, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    /// Database id.
    pub id: i64,
    /// Owner.
    pub user_id: UserId,
    /// Short public id shown in lists.
    pub public_id: String,
    /// The owner's label.
    pub label: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last successful use.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// What it may do within its user's rights.
    pub scope: KeyScope,
}

/// A new API key, already hashed and sealed.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    /// Owner.
    pub user_id: UserId,
    /// Short public id.
    pub public_id: String,
    /// Label.
    pub label: String,
    /// SHA-256 of the key string.
    pub key_hash: Vec<u8>,
    /// The key encrypted under the master key.
    pub key_sealed: Vec<u8>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// What it may do within its user's rights.
    pub scope: KeyScope,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserUpdate {
    /// New role.
    pub role: Option<Role>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Allow or forbid purging.
    pub can_purge: Option<bool>,
    /// New argon2id password hash.
    pub password_hash: Option<String>,
    /// New preferred time zone.
    pub time_zone: Option<String>,
    /// New dashboard language.
    pub locale: Option<String>,
    /// New quota overrides (replacing the old ones entirely).
    pub quota: Option<QuotaOverrides>,
}

/// A domain with its assignments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainInfo {
    /// Database id.
    pub id: i64,
    /// Host name.
    pub host: DomainName,
    /// Users who may purge it.
    pub users: Vec<String>,
    /// Edge groups that serve it.
    pub groups: Vec<String>,
}

/// Counts of a node import.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    /// New nodes.
    pub added: u32,
    /// Existing nodes whose enabled flag was set again.
    pub updated: u32,
}

/// A group with its nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupWithNodes {
    /// The group.
    pub group: EdgeGroup,
    /// Its nodes.
    pub nodes: Vec<EdgeNode>,
}

/// One target of a new batch, already validated against the user's domains.
#[derive(Clone, Debug)]
pub struct NewTask {
    /// Fresh task id.
    pub id: TaskId,
    /// Kind.
    pub kind: TargetKind,
    /// The target text.
    pub target: String,
    /// The host of a tag or everything target.
    pub host: Option<String>,
    /// The domain it is on.
    pub domain_id: i64,
}

/// A submission to write in one transaction, with its quota use.
#[derive(Clone, Debug)]
pub struct NewBatch {
    /// Fresh batch id.
    pub id: BatchId,
    /// Submitter.
    pub user_id: UserId,
    /// Key used, if any.
    pub api_key_id: Option<i64>,
    /// `api000`, `api004`, `v1` or `dashboard`.
    pub source: &'static str,
    /// Client idempotency key of the whole batch.
    pub idempotency_key: Option<String>,
    /// Seed-000 client task id (for a single-target batch).
    pub client_task_id: Option<String>,
    /// Where results are posted.
    pub callback_url: Option<String>,
    /// Delete or invalidate, for every task.
    pub mode: PurgeMode,
    /// The edge groups every task goes to; empty for all of each domain's groups.
    pub groups: Vec<String>,
    /// Verify each node's purge by fetching the URL (URL tasks).
    pub verify: bool,
    /// Fetch the URL through each node after its purge (URL tasks).
    pub prefetch_after: bool,
    /// Acceptance time.
    pub created_at: DateTime<Utc>,
    /// The quota day's storage key.
    pub day: String,
    /// The limits in force for the user.
    pub limits: QuotaLimits,
    /// The targets, deduplicated, in request order.
    pub tasks: Vec<NewTask>,
    /// Written with the batch when anything is accepted.
    pub audit: AuditEntry,
}

/// Why the store refused one target of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreRefusal {
    /// The same regex of this user is still created or running.
    RepeatRunning,
    /// Today's quota is used up.
    OverQuota,
}

/// What the store did with a batch.
#[derive(Clone, Debug)]
pub enum BatchWrite {
    /// Written: per target, `None` for accepted or the refusal.
    Written {
        /// Per target of [`NewBatch::tasks`], in order.
        verdicts: Vec<Option<StoreRefusal>>,
        /// Usage before the batch.
        used_before: QuotaUsage,
        /// Usage after the batch.
        used_after: QuotaUsage,
    },
    /// The idempotency key was seen before: the earlier batch.
    Replayed {
        /// The earlier batch's id.
        batch_id: BatchId,
    },
    /// The client task id was seen before: its task.
    ClientTaskExists {
        /// The earlier task.
        task: Box<TaskRecord>,
    },
}

/// A stored batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// Its id.
    pub id: BatchId,
    /// Submitter.
    pub user_id: UserId,
    /// Where it came from.
    pub source: String,
    /// Acceptance time.
    pub created_at: DateTime<Utc>,
}

/// A task handed to a worker: its record and what is already done.
#[derive(Clone, Debug)]
pub struct ClaimedTask {
    /// The task (status `running`).
    pub task: TaskRecord,
    /// Its frozen node set.
    pub node_set_id: i64,
    /// The nodes of that set when this claim froze it (the task starts now); `None` for a task
    /// taken over after a lease ran out, whose set was frozen before: see `FleetStore::node_set`.
    pub nodes: Option<Arc<NodeSet>>,
    /// Nodes already confirmed.
    pub confirmed: NodeBitmap,
    /// Nodes already failed for good.
    pub failures: Vec<NodeFailure>,
    /// When the task must end, retries included.
    pub deadline: DateTime<Utc>,
}

/// What a worker asks for.
#[derive(Clone, Debug)]
pub struct ClaimRequest {
    /// The claiming instance.
    pub owner: String,
    /// Now.
    pub now: DateTime<Utc>,
    /// The lease lasts until then.
    pub lease_until: DateTime<Utc>,
    /// A task started now must end by now + this.
    pub task_deadline: chrono::Duration,
    /// At most this many tasks.
    pub limit: u32,
    /// At most this many tasks of one user.
    pub per_user: u32,
    /// Users whose tasks not to claim now (they have enough running).
    pub skip_users: Vec<UserId>,
}

/// Progress of one task since the last write, from its lease owner.
#[derive(Clone, Debug)]
pub struct TaskProgress {
    /// The task.
    pub task_id: TaskId,
    /// Every confirmed node so far.
    pub confirmed: NodeBitmap,
    /// Confirmed count.
    pub success: u32,
    /// Failed-for-good count.
    pub failed: u32,
    /// Failures new since the last write.
    pub new_failures: Vec<NodeFailure>,
    /// Nodes that confirmed without an `Age` to verify, so far.
    pub unverified: Vec<u32>,
    /// Nodes that confirmed the purge but whose warming fetch failed, so far.
    pub unprefetched: Vec<u32>,
    /// Nodes that fetched the URL again after the purge, so far.
    pub prefetched: u32,
    /// Set when the task ended.
    pub finished: Option<(TaskStatus, DateTime<Utc>)>,
}

/// Filters and paging of a task list.
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    /// Only this user's tasks (developers always set it).
    pub user_id: Option<UserId>,
    /// Only this status.
    pub status: Option<TaskStatus>,
    /// Only this kind.
    pub kind: Option<TargetKind>,
    /// Only this domain id.
    pub domain_id: Option<i64>,
    /// Only these domain ids (a key limited to some domains); `None`: every domain.
    pub domain_ids: Option<Vec<i64>>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// Target contains this text.
    pub text: Option<String>,
    /// Only tasks with `seq` below this (keyset paging, newest first).
    pub before_seq: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// One audit log row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Row id (0 before it is written).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Acting user, if any (the CLI has none).
    pub actor_id: Option<UserId>,
    /// Acting user's name, or `cli`/`system`.
    pub actor: String,
    /// What was done, such as `user.create` or `purge.accept`.
    pub action: String,
    /// What it was done to.
    pub subject: String,
    /// Details as JSON.
    pub detail: serde_json::Value,
}

/// Filters and paging of the audit log.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this actor name.
    pub actor: Option<String>,
    /// Only actions starting with this.
    pub action_prefix: Option<String>,
    /// Only rows with `id` below this (newest first).
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// A task whose result is due to be posted to its callback URL.
#[derive(Clone, Debug)]
pub struct DueCallback {
    /// The task.
    pub task: TaskRecord,
    /// The key that submitted it (signs the body), if any.
    pub api_key_id: Option<i64>,
    /// Attempts so far.
    pub attempts: u32,
}

/// A frozen node set.
pub type NodeSet = Vec<NodeTarget>;
