//! The PostgreSQL store, for several Purger instances on one database.
//!
//! Same tables as the SQLite store. Concurrency comes from row locks instead of SQLite's single
//! writer: a submission locks its user's row (exact quotas across instances), claims take tasks
//! with `FOR UPDATE SKIP LOCKED`, and `LISTEN/NOTIFY` relays wake-ups and progress.

mod audit;
mod batches;
mod callbacks;
mod fleet;
mod signals;
mod tasks;
mod users;
mod work;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::sync::mpsc;

use super::*;
use crate::fanout::ProgressEvent;
use crate::fleet::{EdgeGroup, EdgeNode, GroupId, NodeId, NodeLine, NodeTarget, Protocol};
use crate::ids::{BatchId, TaskId};
use crate::quota::QuotaUsage;
use crate::target::DomainName;
use crate::tasks::{NodeBitmap, NodeFailure, TaskRecord};
use crate::users::{NewUser, User, UserId};

/// The migrations of this build. Migrations applied by a newer build are tolerated, so that an
/// instance not yet upgraded keeps running during a rolling upgrade (migrations only add).
fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("../migrations/postgres");
    migrator.set_ignore_missing(true);
    migrator
}

/// Connections per instance unless the URL says otherwise (`?max_connections=N`).
const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// A [`Store`] on a PostgreSQL database shared by any number of instances.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`).
    ///
    /// `max_connections=N` in the query string sizes the pool; every other parameter is
    /// PostgreSQL's own.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (url, max_connections) = split_pool_size(url)?;
        let options: PgConnectOptions = url.parse().map_err(StoreError::Open)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.application_name("purger"))
            .await
            .map_err(StoreError::Open)?;
        Ok(Self { pool })
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

/// Takes Purger's own `max_connections` parameter out of a PostgreSQL URL.
fn split_pool_size(url: &str) -> Result<(String, u32), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), DEFAULT_MAX_CONNECTIONS));
    };
    let mut size = DEFAULT_MAX_CONNECTIONS;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("max_connections", value)) => {
                size = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, size))
}

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        migrator().run(&self.pool).await?;
        Ok(())
    }

    async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        let (exists,): (bool,) =
            sqlx::query_as("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        if !exists {
            return Ok(None);
        }
        let (version,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        Ok(version)
    }

    async fn is_fully_migrated(&self) -> Result<bool, StoreError> {
        let latest = migrator().iter().map(|m| m.version).max();
        Ok(self.schema_version().await? >= latest)
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let pool = self.pool.clone();
        let (name, value) = (name.to_owned(), value.to_owned());
        super::detached(async move {
            sqlx::query(
                "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(&name)
            .bind(&value)
            .execute(&pool)
            .await?;
            let (stored,): (String,) = sqlx::query_as("SELECT value FROM settings WHERE name = $1")
                .bind(&name)
                .fetch_one(&pool)
                .await?;
            Ok(stored)
        })
        .await
    }

    async fn create_user(&self, user: &NewUser, at: DateTime<Utc>) -> Result<User, StoreError> {
        users::create(&self.pool, user, at).await
    }
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        users::by_id(&self.pool, id).await
    }
    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        Ok(users::with_password(&self.pool, username)
            .await?
            .map(|(user, _)| user))
    }
    async fn user_with_password(
        &self,
        username: &str,
    ) -> Result<Option<(User, Option<String>)>, StoreError> {
        users::with_password(&self.pool, username).await
    }
    async fn update_user(
        &self,
        id: UserId,
        update: &UserUpdate,
    ) -> Result<Option<User>, StoreError> {
        users::update(&self.pool, id, update).await
    }
    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        users::list(&self.pool).await
    }

    async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        users::create_session(&self.pool, token_hash, user, at, expires).await
    }
    async fn session_user(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        users::session_user(&self.pool, token_hash, now).await
    }
    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_api_key(&self, key: &NewApiKey) -> Result<ApiKeyInfo, StoreError> {
        users::insert_key(&self.pool, key).await
    }
    async fn api_key_by_hash(&self, hash: &[u8]) -> Result<Option<(ApiKeyInfo, User)>, StoreError> {
        users::key_by_hash(&self.pool, hash).await
    }
    async fn sealed_keys_of_user(
        &self,
        user: UserId,
    ) -> Result<Vec<(ApiKeyInfo, Vec<u8>)>, StoreError> {
        users::sealed_keys_of_user(&self.pool, user).await
    }
    async fn sealed_key(&self, key_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT key_sealed FROM api_keys WHERE id = $1")
                .bind(key_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(sealed,)| sealed))
    }
    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKeyInfo>, StoreError> {
        users::list_keys(&self.pool, user).await
    }
    async fn revoke_api_key(
        &self,
        user: UserId,
        public_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1
             WHERE user_id = $2 AND public_id = $3 AND revoked_at IS NULL",
        )
        .bind(crate::time::to_millis(at))
        .bind(user.0)
        .bind(public_id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }
    async fn touch_api_key(&self, key_id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        // One write per minute and key at most: last-used is for people, not for accounting.
        let at = crate::time::to_millis(at);
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1 - 60000)",
        )
        .bind(at)
        .bind(key_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn upsert_domain(&self, host: &DomainName, at: DateTime<Utc>) -> Result<i64, StoreError> {
        fleet::upsert_domain(&self.pool, host, at).await
    }
    async fn assign_domain_user(&self, domain_id: i64, user: UserId) -> Result<(), StoreError> {
        fleet::link(
            &self.pool,
            "INSERT INTO domain_users (domain_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            domain_id,
            user.0,
        )
        .await
    }
    async fn unassign_domain_user(&self, domain_id: i64, user: UserId) -> Result<(), StoreError> {
        fleet::link(
            &self.pool,
            "DELETE FROM domain_users WHERE domain_id = $1 AND user_id = $2",
            domain_id,
            user.0,
        )
        .await
    }
    async fn assign_domain_group(&self, domain_id: i64, group: GroupId) -> Result<(), StoreError> {
        fleet::link(
            &self.pool,
            "INSERT INTO domain_groups (domain_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
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
            &self.pool,
            "DELETE FROM domain_groups WHERE domain_id = $1 AND group_id = $2",
            domain_id,
            group.0,
        )
        .await
    }
    async fn domains_of_user(&self, user: UserId) -> Result<Vec<(i64, DomainName)>, StoreError> {
        fleet::domains_of_user(&self.pool, user).await
    }
    async fn list_domains(&self) -> Result<Vec<DomainInfo>, StoreError> {
        fleet::list_domains(&self.pool).await
    }
    async fn upsert_group(
        &self,
        name: &str,
        protocol: &Protocol,
        at: DateTime<Utc>,
    ) -> Result<EdgeGroup, StoreError> {
        fleet::upsert_group(&self.pool, name, protocol, at).await
    }
    async fn group_by_name(&self, name: &str) -> Result<Option<EdgeGroup>, StoreError> {
        fleet::group_by_name(&self.pool, name).await
    }
    async fn list_groups(&self) -> Result<Vec<GroupWithNodes>, StoreError> {
        fleet::list_groups(&self.pool).await
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
        fleet::set_node_enabled(&self.pool, node, enabled).await
    }
    async fn nodes_for_domain(&self, domain_id: i64) -> Result<Vec<NodeTarget>, StoreError> {
        fleet::nodes_for_domain(&self.pool, domain_id).await
    }
    async fn node_set(&self, id: i64) -> Result<Option<NodeSet>, StoreError> {
        fleet::node_set(&self.pool, id).await
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
        batches::quota_used(&self.pool, user, day).await
    }
    async fn quota_history(
        &self,
        user: UserId,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<(String, QuotaUsage)>, StoreError> {
        batches::quota_history(&self.pool, user, from_day, to_day).await
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
        work::renew_leases(&self.pool, owner, tasks, until).await
    }
    async fn release_leases(&self, owner: &str) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        let owner = owner.to_owned();
        super::detached(async move { work::release_leases(&pool, &owner).await }).await
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
        tasks::by_id(&self.pool, id).await
    }
    async fn latest_task_for_target(
        &self,
        user: UserId,
        target: &str,
    ) -> Result<Option<TaskRecord>, StoreError> {
        tasks::latest_for_target(&self.pool, user, target).await
    }
    async fn batch(&self, id: &BatchId) -> Result<Option<BatchRecord>, StoreError> {
        tasks::batch(&self.pool, id).await
    }
    async fn tasks_of_batch(&self, id: &BatchId) -> Result<Vec<TaskRecord>, StoreError> {
        tasks::of_batch(&self.pool, id).await
    }
    async fn task_failures(&self, id: &TaskId) -> Result<Vec<NodeFailure>, StoreError> {
        work::failures_of(&self.pool, id).await
    }
    async fn task_confirmed(&self, id: &TaskId) -> Result<Option<NodeBitmap>, StoreError> {
        tasks::confirmed(&self.pool, id).await
    }
    async fn pending_counts(&self) -> Result<(u64, u64), StoreError> {
        tasks::pending_counts(&self.pool).await
    }
    async fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, StoreError> {
        tasks::list(&self.pool, filter).await
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
        callbacks::finish(&self.pool, task, outcome).await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        audit::append(&self.pool, entry).await
    }
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        audit::list(&self.pool, filter).await
    }
    async fn checkpoint(&self) -> Result<(), StoreError> {
        // PostgreSQL checkpoints on its own schedule.
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

    async fn listen(&self) -> Result<Option<mpsc::Receiver<StoreSignal>>, StoreError> {
        Ok(Some(signals::listen(&self.pool).await?))
    }
    async fn announce_progress(
        &self,
        origin: &str,
        events: &[ProgressEvent],
    ) -> Result<(), StoreError> {
        signals::announce(&self.pool, origin, events).await
    }
}

#[cfg(test)]
mod tests {
    use super::split_pool_size;

    #[test]
    fn the_pool_size_parameter_is_taken_out_of_the_url() {
        assert_eq!(
            split_pool_size("postgres://a@h/db").unwrap(),
            ("postgres://a@h/db".into(), 16)
        );
        assert_eq!(
            split_pool_size("postgres://a@h/db?max_connections=4&sslmode=disable").unwrap(),
            ("postgres://a@h/db?sslmode=disable".into(), 4)
        );
        assert!(split_pool_size("postgres://a@h/db?max_connections=0").is_err());
    }
}
