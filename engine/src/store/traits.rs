//! The store by resource: one trait each, implemented directly by every backend, and [`Store`]
//! their union (what the engine holds, as `Arc<dyn Store>`).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::{
    ApiKeyInfo, AuditEntry, AuditFilter, BatchRecord, BatchWrite, CallbackOutcome, ClaimRequest,
    ClaimedTask, DomainInfo, DueCallback, GroupWithNodes, ImportCounts, NewApiKey, NewBatch,
    NodeSet, StoreResult, StoreSignal, TaskFilter, TaskProgress, UserUpdate,
};
use crate::fanout::health::NodeHealth;
use crate::fleet::{EdgeGroup, EdgeNode, GroupId, NodeId, NodeLine, NodeTarget, Protocol};
use crate::fleet_view::HealthSample;
use crate::ids::{BatchId, TaskId};
use crate::quota::QuotaUsage;
use crate::target::DomainName;
use crate::tasks::{NodeBitmap, NodeFailure, ProgressEvent, TaskRecord};
use crate::users::{NewUser, User, UserId};

/// Storage of users, keys, domains, the edge fleet, batches, tasks and their results.
pub trait Store:
    SchemaStore
    + UserStore
    + KeyStore
    + DomainStore
    + FleetStore
    + HealthStore
    + BatchStore
    + TaskStore
    + WorkQueue
    + CallbackQueue
    + AuditStore
    + Signals
    + 'static
{
}

impl<T> Store for T where
    T: SchemaStore
        + UserStore
        + KeyStore
        + DomainStore
        + FleetStore
        + HealthStore
        + BatchStore
        + TaskStore
        + WorkQueue
        + CallbackQueue
        + AuditStore
        + Signals
        + 'static
{
}

/// The schema, the settings and the database file.
#[async_trait]
pub trait SchemaStore: Send + Sync {
    /// Applies every pending migration.
    async fn migrate(&self) -> StoreResult<()>;
    /// The newest applied migration's version, `None` before the first migration.
    async fn schema_version(&self) -> StoreResult<Option<i64>>;
    /// Whether every migration this build knows of has been applied.
    async fn is_fully_migrated(&self) -> StoreResult<bool>;
    /// Stores `value` under `name` unless a value is there already; the value stored.
    async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String>;
    /// Folds the write-ahead log into the database file (SQLite; before backups and size
    /// measurements).
    async fn checkpoint(&self) -> StoreResult<()>;
}

/// Users and their dashboard sessions.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user; `StoreError::Conflict` when the name is taken.
    async fn create_user(&self, user: &NewUser, at: DateTime<Utc>) -> StoreResult<User>;
    /// A user by id.
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    /// A user by name.
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let found = self.user_with_password(username).await?;
        Ok(found.map(|(user, _)| user))
    }
    /// A user and their password hash, for sign-in.
    async fn user_with_password(
        &self,
        username: &str,
    ) -> StoreResult<Option<(User, Option<String>)>>;
    /// Applies `update`; the updated user, or `None` when there is no such user.
    async fn update_user(&self, id: UserId, update: &UserUpdate) -> StoreResult<Option<User>>;
    /// Every user, by name.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Stores a session (by the hash of its token).
    async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The enabled or disabled user of an unexpired session.
    async fn session_user(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()>;
}

/// API keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a key unless its user already holds `live_cap` unrevoked keys (`None` then): the
    /// count and the insert are one step, so concurrent creations cannot pass the cap together.
    /// `StoreError::Conflict` when the same key string exists.
    async fn insert_api_key(
        &self,
        key: &NewApiKey,
        live_cap: u32,
    ) -> StoreResult<Option<ApiKeyInfo>>;
    /// The key with this lookup hash and its owner (revoked keys included).
    async fn api_key_by_hash(&self, hash: &[u8]) -> StoreResult<Option<(ApiKeyInfo, User)>>;
    /// A user's unrevoked keys with their sealed secrets (for HMAC verification).
    async fn sealed_keys_of_user(&self, user: UserId) -> StoreResult<Vec<(ApiKeyInfo, Vec<u8>)>>;
    /// The sealed secret of a key by id.
    async fn sealed_key(&self, key_id: i64) -> StoreResult<Option<Vec<u8>>>;
    /// A user's keys, newest first.
    async fn list_api_keys(&self, user: UserId) -> StoreResult<Vec<ApiKeyInfo>>;
    /// Revokes a key of `user` by public id; whether one was revoked.
    async fn revoke_api_key(
        &self,
        user: UserId,
        public_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records a successful use.
    async fn touch_api_key(&self, key_id: i64, at: DateTime<Utc>) -> StoreResult<()>;
}

/// Domains, and who may purge them and which groups serve them.
#[async_trait]
pub trait DomainStore: Send + Sync {
    /// Creates the domain if new; its id.
    async fn upsert_domain(&self, host: &DomainName, at: DateTime<Utc>) -> StoreResult<i64>;
    /// Lets `user` purge `domain`.
    async fn assign_domain_user(&self, domain_id: i64, user: UserId) -> StoreResult<()>;
    /// Takes `user` off `domain`.
    async fn unassign_domain_user(&self, domain_id: i64, user: UserId) -> StoreResult<()>;
    /// Lets `group` serve `domain`.
    async fn assign_domain_group(&self, domain_id: i64, group: GroupId) -> StoreResult<()>;
    /// Takes `group` off `domain`.
    async fn unassign_domain_group(&self, domain_id: i64, group: GroupId) -> StoreResult<()>;
    /// The domains a user may purge.
    async fn domains_of_user(&self, user: UserId) -> StoreResult<Vec<(i64, DomainName)>>;
    /// The names of the edge groups serving a domain, sorted.
    async fn domain_group_names(&self, domain_id: i64) -> StoreResult<Vec<String>>;
    /// Every domain with its assignments.
    async fn list_domains(&self) -> StoreResult<Vec<DomainInfo>>;
    /// The domain stored under exactly this host name (lowercase), with its assignments.
    async fn domain_by_host(&self, host: &str) -> StoreResult<Option<DomainInfo>>;
}

/// Edge groups, their nodes and the frozen node sets of tasks.
#[async_trait]
pub trait FleetStore: Send + Sync {
    /// Creates a group, or changes the protocol of the group with that name.
    async fn upsert_group(
        &self,
        name: &str,
        protocol: &Protocol,
        at: DateTime<Utc>,
    ) -> StoreResult<EdgeGroup>;
    /// A group by name.
    async fn group_by_name(&self, name: &str) -> StoreResult<Option<EdgeGroup>>;
    /// Every group with its nodes.
    async fn list_groups(&self) -> StoreResult<Vec<GroupWithNodes>>;
    /// Adds or updates nodes of a group.
    async fn import_nodes(
        &self,
        group: GroupId,
        lines: &[NodeLine],
        at: DateTime<Utc>,
    ) -> StoreResult<ImportCounts>;
    /// Enables or disables a node; the node, or `None` when unknown.
    async fn set_node_enabled(&self, node: NodeId, enabled: bool) -> StoreResult<Option<EdgeNode>>;
    /// The enabled nodes of the groups serving a domain (every one when `groups` is empty, else
    /// those named), each cache once, in a stable order.
    async fn nodes_for_domain(
        &self,
        domain_id: i64,
        groups: &[String],
    ) -> StoreResult<Vec<NodeTarget>>;
    /// A frozen node set by id.
    async fn node_set(&self, id: i64) -> StoreResult<Option<NodeSet>>;
}

/// Each node's recent results and the fleet's health over time (`crate::health_keeper`).
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Saves nodes' health, keeping a stored record that is newer (another instance's) and
    /// skipping nodes that no longer exist.
    async fn save_node_health(&self, health: &[(NodeId, NodeHealth)]) -> StoreResult<()>;
    /// Every node's saved health.
    async fn saved_node_health(&self) -> StoreResult<HashMap<NodeId, NodeHealth>>;
    /// Saves a sample (replacing one taken at the same time) and deletes those before
    /// `keep_since`.
    async fn save_health_sample(
        &self,
        sample: &HealthSample,
        keep_since: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The samples taken since `since`, oldest first.
    async fn health_samples(&self, since: DateTime<Utc>) -> StoreResult<Vec<HealthSample>>;
}

/// Submissions and the quota they use.
#[async_trait]
pub trait BatchStore: Send + Sync {
    /// Writes a batch and its quota use in one transaction, refusing repeats and what exceeds
    /// the quota. Exact under concurrency.
    async fn write_batch(&self, batch: &NewBatch) -> StoreResult<BatchWrite>;
    /// Today's usage of a user.
    async fn quota_used(&self, user: UserId, day: &str) -> StoreResult<QuotaUsage>;
    /// Daily usage of a user over a date range (inclusive keys `YYYY-MM-DD`).
    async fn quota_history(
        &self,
        user: UserId,
        from_day: &str,
        to_day: &str,
    ) -> StoreResult<Vec<(String, QuotaUsage)>>;
    /// A batch by id.
    async fn batch(&self, id: &BatchId) -> StoreResult<Option<BatchRecord>>;
}

/// Reading tasks and their results, and pruning old ones.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// A task by id.
    async fn task(&self, id: &TaskId) -> StoreResult<Option<TaskRecord>>;
    /// The newest exact-URL task of `user` for exactly this URL (not a tag named like one).
    async fn latest_url_task(&self, user: UserId, target: &str) -> StoreResult<Option<TaskRecord>>;
    /// The tasks of a batch, in submission order.
    async fn tasks_of_batch(&self, id: &BatchId) -> StoreResult<Vec<TaskRecord>>;
    /// The failed nodes of a task.
    async fn task_failures(&self, id: &TaskId) -> StoreResult<Vec<NodeFailure>>;
    /// The confirmed-node bitmap of a running task.
    async fn task_confirmed(&self, id: &TaskId) -> StoreResult<Option<NodeBitmap>>;
    /// How many tasks are `created` and `running`.
    async fn pending_counts(&self) -> StoreResult<(u64, u64)>;
    /// Tasks created since `since`, of `user` (everyone's with `None`), per quarter hour (every
    /// zone's offset is a whole number of them): `(quarter hours since the epoch, succeeded,
    /// failed)`, oldest first.
    async fn outcomes_by_quarter_hour(
        &self,
        user: Option<UserId>,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(i64, u64, u64)>>;
    /// A page of tasks, newest first.
    async fn list_tasks(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskRecord>>;
    /// Deletes finished tasks (and their failures) finished before `cutoff`; how many.
    async fn prune_tasks(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}

/// The fan-out's work queue: claims with leases, and progress.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Claims runnable tasks (created, or running with an expired lease), fairly across users,
    /// freezing the node set of tasks that start now.
    async fn claim_tasks(&self, request: &ClaimRequest) -> StoreResult<Vec<ClaimedTask>>;
    /// Writes progress of tasks leased by `owner` in one transaction; the ids whose lease was
    /// lost (nothing written for them).
    async fn record_progress(
        &self,
        owner: &str,
        progress: &[TaskProgress],
    ) -> StoreResult<Vec<TaskId>>;
    /// Extends `owner`'s leases on `tasks`.
    async fn renew_leases(
        &self,
        owner: &str,
        tasks: &[TaskId],
        until: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Gives up every lease of `owner` (graceful shutdown).
    async fn release_leases(&self, owner: &str) -> StoreResult<()>;
    /// Puts a finished task's failed nodes (except `unsupported`) back to work; whether it was
    /// requeued.
    async fn requeue_failed_nodes(&self, task: &TaskId) -> StoreResult<bool>;
}

/// The queue of callbacks due for finished tasks.
#[async_trait]
pub trait CallbackQueue: Send + Sync {
    /// Tasks whose callback is due now, marking them as being delivered until `retry_at`.
    async fn due_callbacks(
        &self,
        now: DateTime<Utc>,
        retry_at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<DueCallback>>;
    /// Records a delivery attempt: delivered, retry at a time, or given up.
    async fn finish_callback(&self, task: &TaskId, outcome: CallbackOutcome) -> StoreResult<()>;
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends to the audit log.
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// A page of the audit log, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
}

/// Other instances on the same database; by default (SQLite) there are none.
#[async_trait]
pub trait Signals: Send + Sync {
    /// Starts receiving what other instances sharing this database announce; `None` where the
    /// backend serves one instance only (SQLite).
    async fn listen(&self) -> StoreResult<Option<mpsc::Receiver<StoreSignal>>> {
        Ok(None)
    }
    /// Tells the other instances that `user`'s account or keys changed.
    async fn announce_account_change(&self, user: UserId) -> StoreResult<()> {
        let _ = user;
        Ok(())
    }
    /// Tells the other instances about progress this one (`origin`) wrote.
    async fn announce_progress(&self, origin: &str, events: &[ProgressEvent]) -> StoreResult<()> {
        let _ = (origin, events);
        Ok(())
    }
}
