//! Persistence: one [`Store`] trait, one implementation per database backend.
//!
//! No SQL lives outside this module.

mod plan;
mod postgres;
mod rows;
mod sqlite;
mod task_list;
mod types;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use types::*;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::fanout::ProgressEvent;

use crate::fleet::{EdgeGroup, EdgeNode, GroupId, NodeId, NodeLine, NodeTarget, Protocol};
use crate::ids::{BatchId, TaskId};
use crate::quota::QuotaUsage;
use crate::target::DomainName;
use crate::tasks::{NodeFailure, TaskRecord};
use crate::users::{NewUser, User, UserId};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names a backend this build does not support.
    #[error("unsupported database URL {0:?} (expected sqlite://… or postgres://…)")]
    UnsupportedUrl(String),
    /// The database could not be opened or created.
    #[error("cannot open database: {0}")]
    Open(#[source] sqlx::Error),
    /// Applying the migrations failed.
    #[error("cannot migrate database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique name is taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// Something referred to does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A stored value cannot be read back (a damaged row or a newer schema).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// The task running a transaction panicked or was stopped.
    #[error("database task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Whether the database is busy, locked or unreachable for now, rather than refusing this
    /// request: the same request may succeed a moment later.
    pub fn is_unavailable(&self) -> bool {
        let error = match self {
            StoreError::Open(error) | StoreError::Query(error) => error,
            _ => return false,
        };
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            sqlx::Error::Database(db) => matches!(
                db.code().as_deref(),
                // SQLite: SQLITE_BUSY, SQLITE_LOCKED (and their extended codes).
                Some("5" | "6" | "261" | "262" | "517" | "773")
                // PostgreSQL: cannot connect now, admin/crash shutdown, lock timeout, too many
                // connections, serialization failure, deadlock.
                | Some("57P01" | "57P02" | "57P03" | "55P03" | "53300" | "40001" | "40P01")
            ),
            _ => false,
        }
    }
}

/// Storage of users, keys, domains, the edge fleet, batches, tasks and their results.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- schema ---
    /// Applies every pending migration.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// The newest applied migration's version, `None` before the first migration.
    async fn schema_version(&self) -> Result<Option<i64>, StoreError>;
    /// Whether every migration this build knows of has been applied.
    async fn is_fully_migrated(&self) -> Result<bool, StoreError>;
    /// Stores `value` under `name` unless a value is there already; the value stored.
    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError>;

    // --- users ---
    /// Creates a user; [`StoreError::Conflict`] when the name is taken.
    async fn create_user(&self, user: &NewUser, at: DateTime<Utc>) -> Result<User, StoreError>;
    /// A user by id.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// A user by name.
    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// A user and their password hash, for sign-in.
    async fn user_with_password(
        &self,
        username: &str,
    ) -> Result<Option<(User, Option<String>)>, StoreError>;
    /// Applies `update`; the updated user, or `None` when there is no such user.
    async fn update_user(
        &self,
        id: UserId,
        update: &UserUpdate,
    ) -> Result<Option<User>, StoreError>;
    /// Every user, by name.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    // --- dashboard sessions ---
    /// Stores a session (by the hash of its token).
    async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The enabled or disabled user of an unexpired session.
    async fn session_user(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError>;

    // --- API keys ---
    /// Stores a key; [`StoreError::Conflict`] when the same key string exists.
    async fn insert_api_key(&self, key: &NewApiKey) -> Result<ApiKeyInfo, StoreError>;
    /// The key with this lookup hash and its owner (revoked keys included).
    async fn api_key_by_hash(&self, hash: &[u8]) -> Result<Option<(ApiKeyInfo, User)>, StoreError>;
    /// A user's unrevoked keys with their sealed secrets (for HMAC verification).
    async fn sealed_keys_of_user(
        &self,
        user: UserId,
    ) -> Result<Vec<(ApiKeyInfo, Vec<u8>)>, StoreError>;
    /// The sealed secret of a key by id.
    async fn sealed_key(&self, key_id: i64) -> Result<Option<Vec<u8>>, StoreError>;
    /// A user's keys, newest first.
    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKeyInfo>, StoreError>;
    /// Revokes a key of `user` by public id; whether one was revoked.
    async fn revoke_api_key(
        &self,
        user: UserId,
        public_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Records a successful use.
    async fn touch_api_key(&self, key_id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;

    // --- domains and fleet ---
    /// Creates the domain if new; its id.
    async fn upsert_domain(&self, host: &DomainName, at: DateTime<Utc>) -> Result<i64, StoreError>;
    /// Lets `user` purge `domain`.
    async fn assign_domain_user(&self, domain_id: i64, user: UserId) -> Result<(), StoreError>;
    /// Takes `user` off `domain`.
    async fn unassign_domain_user(&self, domain_id: i64, user: UserId) -> Result<(), StoreError>;
    /// Lets `group` serve `domain`.
    async fn assign_domain_group(&self, domain_id: i64, group: GroupId) -> Result<(), StoreError>;
    /// Takes `group` off `domain`.
    async fn unassign_domain_group(&self, domain_id: i64, group: GroupId)
        -> Result<(), StoreError>;
    /// The domains a user may purge.
    async fn domains_of_user(&self, user: UserId) -> Result<Vec<(i64, DomainName)>, StoreError>;
    /// Every domain with its assignments.
    async fn list_domains(&self) -> Result<Vec<DomainInfo>, StoreError>;
    /// Creates a group, or changes the protocol of the group with that name.
    async fn upsert_group(
        &self,
        name: &str,
        protocol: &Protocol,
        at: DateTime<Utc>,
    ) -> Result<EdgeGroup, StoreError>;
    /// A group by name.
    async fn group_by_name(&self, name: &str) -> Result<Option<EdgeGroup>, StoreError>;
    /// Every group with its nodes.
    async fn list_groups(&self) -> Result<Vec<GroupWithNodes>, StoreError>;
    /// Adds or updates nodes of a group.
    async fn import_nodes(
        &self,
        group: GroupId,
        lines: &[NodeLine],
        at: DateTime<Utc>,
    ) -> Result<ImportCounts, StoreError>;
    /// Enables or disables a node; the node, or `None` when unknown.
    async fn set_node_enabled(
        &self,
        node: NodeId,
        enabled: bool,
    ) -> Result<Option<EdgeNode>, StoreError>;
    /// The enabled nodes of every group serving a domain, each cache once, in a stable order.
    async fn nodes_for_domain(&self, domain_id: i64) -> Result<Vec<NodeTarget>, StoreError>;
    /// A frozen node set by id.
    async fn node_set(&self, id: i64) -> Result<Option<NodeSet>, StoreError>;

    // --- submissions ---
    /// Writes a batch and its quota use in one transaction, refusing repeats and what exceeds
    /// the quota. Exact under concurrency.
    async fn write_batch(&self, batch: &NewBatch) -> Result<BatchWrite, StoreError>;
    /// Today's usage of a user.
    async fn quota_used(&self, user: UserId, day: &str) -> Result<QuotaUsage, StoreError>;
    /// Daily usage of a user over a date range (inclusive keys `YYYY-MM-DD`).
    async fn quota_history(
        &self,
        user: UserId,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<(String, QuotaUsage)>, StoreError>;

    // --- fan-out ---
    /// Claims runnable tasks (created, or running with an expired lease), fairly across users,
    /// freezing the node set of tasks that start now.
    async fn claim_tasks(&self, request: &ClaimRequest) -> Result<Vec<ClaimedTask>, StoreError>;
    /// Writes progress of tasks leased by `owner` in one transaction; the ids whose lease was
    /// lost (nothing written for them).
    async fn record_progress(
        &self,
        owner: &str,
        progress: &[TaskProgress],
    ) -> Result<Vec<TaskId>, StoreError>;
    /// Extends `owner`'s leases on `tasks`.
    async fn renew_leases(
        &self,
        owner: &str,
        tasks: &[TaskId],
        until: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Gives up every lease of `owner` (graceful shutdown).
    async fn release_leases(&self, owner: &str) -> Result<(), StoreError>;
    /// Puts a finished task's failed nodes (except `unsupported`) back to work; whether it was
    /// requeued.
    async fn requeue_failed_nodes(&self, task: &TaskId) -> Result<bool, StoreError>;

    // --- reading results ---
    /// A task by id.
    async fn task(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError>;
    /// The newest task of `user` for exactly this target text.
    async fn latest_task_for_target(
        &self,
        user: UserId,
        target: &str,
    ) -> Result<Option<TaskRecord>, StoreError>;
    /// A batch by id.
    async fn batch(&self, id: &BatchId) -> Result<Option<BatchRecord>, StoreError>;
    /// The tasks of a batch, in submission order.
    async fn tasks_of_batch(&self, id: &BatchId) -> Result<Vec<TaskRecord>, StoreError>;
    /// The failed nodes of a task.
    async fn task_failures(&self, id: &TaskId) -> Result<Vec<NodeFailure>, StoreError>;
    /// The confirmed-node bitmap of a running task.
    async fn task_confirmed(
        &self,
        id: &TaskId,
    ) -> Result<Option<crate::tasks::NodeBitmap>, StoreError>;
    /// How many tasks are `created` and `running`.
    async fn pending_counts(&self) -> Result<(u64, u64), StoreError>;
    /// A page of tasks, newest first.
    async fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, StoreError>;

    // --- callbacks ---
    /// Tasks whose callback is due now, marking them as being delivered until `retry_at`.
    async fn due_callbacks(
        &self,
        now: DateTime<Utc>,
        retry_at: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueCallback>, StoreError>;
    /// Records a delivery attempt: delivered, retry at a time, or given up.
    async fn finish_callback(
        &self,
        task: &TaskId,
        outcome: CallbackOutcome,
    ) -> Result<(), StoreError>;

    // --- audit and retention ---
    /// Appends to the audit log.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// A page of the audit log, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
    /// Folds the write-ahead log into the database file (SQLite; before backups and size
    /// measurements).
    async fn checkpoint(&self) -> Result<(), StoreError>;
    /// Deletes finished tasks (and their failures) finished before `cutoff`; how many.
    async fn prune_tasks(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError>;

    // --- other instances on the same database ---
    /// Starts receiving what other instances sharing this database announce; `None` where the
    /// backend serves one instance only (SQLite).
    async fn listen(&self) -> Result<Option<mpsc::Receiver<StoreSignal>>, StoreError> {
        Ok(None)
    }
    /// Tells the other instances about progress this one (`origin`) wrote.
    async fn announce_progress(
        &self,
        origin: &str,
        events: &[ProgressEvent],
    ) -> Result<(), StoreError> {
        let _ = (origin, events);
        Ok(())
    }
}

/// What another instance sharing the database announced.
#[derive(Clone, Debug)]
pub enum StoreSignal {
    /// Tasks may be claimable: look for work now.
    WorkAvailable,
    /// Progress written by instance `origin`.
    Progress {
        /// The instance that wrote it.
        origin: String,
        /// The events.
        events: Vec<ProgressEvent>,
    },
}

/// The result of one callback delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Given up after the last attempt.
    GaveUp,
}

/// Opens the store named by `database_url`: `sqlite://path` (the file and its folder are created
/// if needed) or `postgres://user@host:port/database`.
pub async fn open(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        return Ok(Arc::new(SqliteStore::open(Path::new(path)).await?));
    }
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return Ok(Arc::new(PgStore::open(database_url).await?));
    }
    Err(StoreError::UnsupportedUrl(redact_password(database_url)))
}

/// The digest under which a node set is stored, so that equal sets share one row.
pub(crate) fn node_set_digest(nodes: &[NodeTarget]) -> (String, String) {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_string(nodes).expect("node targets serialize");
    let digest = hex::encode(Sha256::digest(json.as_bytes()));
    (digest, json)
}

/// Runs a transaction's work in a task of its own and waits for it.
///
/// A caller that goes away (an HTTP client hanging up drops its request's future) must not
/// cancel a transaction halfway: sqlx would hand the connection back to the pool still inside
/// it, holding its locks, and every later write on that connection would fail. Detached, the
/// transaction always ends in a commit or a rollback.
pub(crate) async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work)
        .await
        .map_err(|error| StoreError::Task(error.to_string()))?
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
