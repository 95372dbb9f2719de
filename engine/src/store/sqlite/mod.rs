//! The embedded SQLite store: one file, WAL journal, a single writer connection.

mod audit;
mod batches;
mod callbacks;
mod fleet;

mod tasks;
mod users;
mod work;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::*;
use crate::fleet::{EdgeGroup, EdgeNode, GroupId, NodeId, NodeLine, NodeTarget, Protocol};
use crate::ids::{BatchId, TaskId};
use crate::quota::QuotaUsage;
use crate::target::DomainName;
use crate::tasks::{NodeBitmap, NodeFailure, TaskRecord};
use crate::users::{NewUser, User, UserId};

/// The migrations of this build. Migrations applied by a newer build are tolerated, so that an
/// instance not yet upgraded keeps running during a rolling upgrade (migrations only add).
fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("../migrations/sqlite");
    migrator.set_ignore_missing(true);
    migrator
}

/// A [`Store`] on a SQLite database file.
///
/// Writes go through one connection (SQLite has one writer anyway) in `BEGIN IMMEDIATE`
/// transactions, so read-then-write sequences such as quota checks are exact; reads use a pool.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(StoreError::Open)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-16000");
        // Waiting writers queue for the one connection; past these bounds (and SQLite's busy
        // timeout once connected) a request fails as unavailable instead of hanging.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(options.clone())
            .await
            .map_err(StoreError::Open)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(StoreError::Open)?;
        Ok(Self { writer, reader })
    }

    /// A write transaction that holds SQLite's write lock from its first statement.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        migrator().run(&self.writer).await?;
        Ok(())
    }

    async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        let exists: Option<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_optional(&self.reader)
        .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let (version,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&self.reader)
                .await?;
        Ok(version)
    }

    async fn is_fully_migrated(&self) -> Result<bool, StoreError> {
        let latest = migrator().iter().map(|m| m.version).max();
        Ok(self.schema_version().await? >= latest)
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        // Read first: once set, a setting never needs the write lock again.
        let stored: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.reader)
            .await?;
        if let Some((stored,)) = stored {
            return Ok(stored);
        }
        // A setting is written once, by whoever comes first: an INSERT that may do nothing.
        let writer = self.writer.clone();
        let (name, value) = (name.to_owned(), value.to_owned());
        super::detached(async move {
            sqlx::query(
                "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            )
            .bind(&name)
            .bind(&value)
            .execute(&writer)
            .await?;
            let (stored,): (String,) = sqlx::query_as("SELECT value FROM settings WHERE name = ?")
                .bind(&name)
                .fetch_one(&writer)
                .await?;
            Ok(stored)
        })
        .await
    }

    async fn create_user(&self, user: &NewUser, at: DateTime<Utc>) -> Result<User, StoreError> {
        users::create(&self.writer, user, at).await
    }
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        users::by_id(&self.reader, id).await
    }
    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        Ok(users::with_password(&self.reader, username)
            .await?
            .map(|(user, _)| user))
    }
    async fn user_with_password(
        &self,
        username: &str,
    ) -> Result<Option<(User, Option<String>)>, StoreError> {
        users::with_password(&self.reader, username).await
    }
    async fn update_user(
        &self,
        id: UserId,
        update: &UserUpdate,
    ) -> Result<Option<User>, StoreError> {
        users::update(&self.writer, id, update).await
    }
    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        users::list(&self.reader).await
    }

    async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        users::create_session(&self.writer, token_hash, user, at, expires).await
    }
    async fn session_user(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        users::session_user(&self.reader, token_hash, now).await
    }
    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        users::delete_session(&self.writer, token_hash).await
    }

    async fn insert_api_key(&self, key: &NewApiKey) -> Result<ApiKeyInfo, StoreError> {
        users::insert_key(&self.writer, key).await
    }
    async fn api_key_by_hash(&self, hash: &[u8]) -> Result<Option<(ApiKeyInfo, User)>, StoreError> {
        users::key_by_hash(&self.reader, hash).await
    }
    async fn sealed_keys_of_user(
        &self,
        user: UserId,
    ) -> Result<Vec<(ApiKeyInfo, Vec<u8>)>, StoreError> {
        users::sealed_keys_of_user(&self.reader, user).await
    }
    async fn sealed_key(&self, key_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        users::sealed_key(&self.reader, key_id).await
    }
    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKeyInfo>, StoreError> {
        users::list_keys(&self.reader, user).await
    }
    async fn revoke_api_key(
        &self,
        user: UserId,
        public_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        users::revoke_key(&self.writer, user, public_id, at).await
    }
    async fn touch_api_key(&self, key_id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        users::touch_key(&self.writer, key_id, at).await
    }

    async fn upsert_domain(&self, host: &DomainName, at: DateTime<Utc>) -> Result<i64, StoreError> {
        fleet::upsert_domain(&self.writer, host, at).await
    }
    async fn assign_domain_user(&self, domain_id: i64, user: UserId) -> Result<(), StoreError> {
        fleet::link(
            &self.writer,
            "INSERT OR IGNORE INTO domain_users (domain_id, user_id) VALUES (?, ?)",
            domain_id,
            user.0,
        )
        .await
    }
    async fn unassign_domain_user(&self, domain_id: i64, user: UserId) -> Result<(), StoreError> {
        fleet::link(
            &self.writer,
            "DELETE FROM domain_users WHERE domain_id = ? AND user_id = ?",
            domain_id,
            user.0,
        )
        .await
    }
    async fn assign_domain_group(&self, domain_id: i64, group: GroupId) -> Result<(), StoreError> {
        fleet::link(
            &self.writer,
            "INSERT OR IGNORE INTO domain_groups (domain_id, group_id) VALUES (?, ?)",
            domain_id,
            group.0,
        )
        .await
    }
    async fn unassign_domain_group(
        &self,
        domain_id: i64,
        group: GroupId,
    ) -> Result<(), StoreError> {
        fleet::link(
            &self.writer,
            "DELETE FROM domain_groups WHERE domain_id = ? AND group_id = ?",
            domain_id,
            group.0,
        )
        .await
    }
    async fn domains_of_user(&self, user: UserId) -> Result<Vec<(i64, DomainName)>, StoreError> {
        fleet::domains_of_user(&self.reader, user).await
    }
    async fn list_domains(&self) -> Result<Vec<DomainInfo>, StoreError> {
        fleet::list_domains(&self.reader).await
    }
    async fn upsert_group(
        &self,
        name: &str,
        protocol: &Protocol,
        at: DateTime<Utc>,
    ) -> Result<EdgeGroup, StoreError> {
        fleet::upsert_group(&self.writer, name, protocol, at).await
    }
    async fn group_by_name(&self, name: &str) -> Result<Option<EdgeGroup>, StoreError> {
        fleet::group_by_name(&self.reader, name).await
    }
    async fn list_groups(&self) -> Result<Vec<GroupWithNodes>, StoreError> {
        fleet::list_groups(&self.reader).await
    }
    async fn import_nodes(
        &self,
        group: GroupId,
        lines: &[NodeLine],
        at: DateTime<Utc>,
    ) -> Result<ImportCounts, StoreError> {
        let store = self.clone();
        let lines = lines.to_vec();
        super::detached(async move {
            let mut tx = store.begin().await?;
            let counts = fleet::import_nodes(&mut tx, group, &lines, at).await?;
            tx.commit().await?;
            Ok(counts)
        })
        .await
    }
    async fn set_node_enabled(
        &self,
        node: NodeId,
        enabled: bool,
    ) -> Result<Option<EdgeNode>, StoreError> {
        fleet::set_node_enabled(&self.writer, node, enabled).await
    }
    async fn nodes_for_domain(&self, domain_id: i64) -> Result<Vec<NodeTarget>, StoreError> {
        fleet::nodes_for_domain(&self.reader, domain_id).await
    }
    async fn node_set(&self, id: i64) -> Result<Option<NodeSet>, StoreError> {
        fleet::node_set(&self.reader, id).await
    }

    async fn write_batch(&self, batch: &NewBatch) -> Result<BatchWrite, StoreError> {
        let store = self.clone();
        let batch = batch.clone();
        super::detached(async move {
            let mut tx = store.begin().await?;
            let write = batches::write(&mut tx, &batch).await?;
            tx.commit().await?;
            Ok(write)
        })
        .await
    }
    async fn quota_used(&self, user: UserId, day: &str) -> Result<QuotaUsage, StoreError> {
        batches::quota_used(&self.reader, user, day).await
    }
    async fn quota_history(
        &self,
        user: UserId,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<(String, QuotaUsage)>, StoreError> {
        batches::quota_history(&self.reader, user, from_day, to_day).await
    }

    async fn claim_tasks(&self, request: &ClaimRequest) -> Result<Vec<ClaimedTask>, StoreError> {
        let store = self.clone();
        let request = request.clone();
        super::detached(async move {
            let mut tx = store.begin().await?;
            let claimed = work::claim(&mut tx, &request).await?;
            tx.commit().await?;
            Ok(claimed)
        })
        .await
    }
    async fn record_progress(
        &self,
        owner: &str,
        progress: &[TaskProgress],
    ) -> Result<Vec<TaskId>, StoreError> {
        let store = self.clone();
        let owner = owner.to_owned();
        let progress = progress.to_vec();
        super::detached(async move {
            let mut tx = store.begin().await?;
            let lost = work::record_progress(&mut tx, &owner, &progress).await?;
            tx.commit().await?;
            Ok(lost)
        })
        .await
    }
    async fn renew_leases(
        &self,
        owner: &str,
        tasks: &[TaskId],
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let store = self.clone();
        let owner = owner.to_owned();
        let tasks = tasks.to_vec();
        super::detached(async move {
            let mut tx = store.begin().await?;
            work::renew_leases(&mut tx, &owner, &tasks, until).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
    async fn release_leases(&self, owner: &str) -> Result<(), StoreError> {
        work::release_leases(&self.writer, owner).await
    }
    async fn requeue_failed_nodes(&self, task: &TaskId) -> Result<bool, StoreError> {
        let store = self.clone();
        let task = task.clone();
        super::detached(async move {
            let mut tx = store.begin().await?;
            let requeued = work::requeue_failed_nodes(&mut tx, &task).await?;
            tx.commit().await?;
            Ok(requeued)
        })
        .await
    }

    async fn task(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> {
        tasks::by_id(&self.reader, id).await
    }
    async fn latest_task_for_target(
        &self,
        user: UserId,
        target: &str,
    ) -> Result<Option<TaskRecord>, StoreError> {
        tasks::latest_for_target(&self.reader, user, target).await
    }
    async fn batch(&self, id: &BatchId) -> Result<Option<BatchRecord>, StoreError> {
        tasks::batch(&self.reader, id).await
    }
    async fn tasks_of_batch(&self, id: &BatchId) -> Result<Vec<TaskRecord>, StoreError> {
        tasks::of_batch(&self.reader, id).await
    }
    async fn task_failures(&self, id: &TaskId) -> Result<Vec<NodeFailure>, StoreError> {
        tasks::failures(&self.reader, id).await
    }
    async fn task_confirmed(&self, id: &TaskId) -> Result<Option<NodeBitmap>, StoreError> {
        tasks::confirmed(&self.reader, id).await
    }
    async fn pending_counts(&self) -> Result<(u64, u64), StoreError> {
        tasks::pending_counts(&self.reader).await
    }
    async fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, StoreError> {
        tasks::list(&self.reader, filter).await
    }

    async fn due_callbacks(
        &self,
        now: DateTime<Utc>,
        retry_at: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueCallback>, StoreError> {
        let store = self.clone();
        super::detached(async move {
            let mut tx = store.begin().await?;
            let due = callbacks::due(&mut tx, now, retry_at, limit).await?;
            tx.commit().await?;
            Ok(due)
        })
        .await
    }
    async fn finish_callback(
        &self,
        task: &TaskId,
        outcome: CallbackOutcome,
    ) -> Result<(), StoreError> {
        callbacks::finish(&self.writer, task, outcome).await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        audit::append(&self.writer, entry).await
    }
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        audit::list(&self.reader, filter).await
    }
    async fn checkpoint(&self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await?;
        Ok(())
    }
    async fn prune_tasks(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let store = self.clone();
        super::detached(async move {
            let mut tx = store.begin().await?;
            let pruned = tasks::prune(&mut tx, cutoff).await?;
            tx.commit().await?;
            Ok(pruned)
        })
        .await
    }
}

/// What SQLite's planner says it will do for `sql` with `values` bound, on an empty database
/// with every migration, one step per line: tests pin which indexes a statement uses with it.
#[cfg(test)]
async fn query_plan(sql: &str, values: Vec<super::task_list::Value>) -> String {
    use sqlx::Row;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("plan.db"))
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let steps = super::task_list::bind_values(sqlx::query(&explain), values)
        .fetch_all(&store.reader)
        .await
        .expect("explain");
    steps
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect::<Vec<_>>()
        .join("\n")
}
