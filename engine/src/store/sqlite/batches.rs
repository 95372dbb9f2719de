//! Writing submissions with their quota use: groups of them, each in one transaction.

use std::collections::HashSet;

use async_trait::async_trait;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use tracing::instrument;

use super::SqliteStore;
use crate::ids::BatchId;
use crate::quota::QuotaUsage;
use crate::store::batch_write::{self, BatchTx};
use crate::store::group_commit::GroupWriter;
use crate::store::rows::{self, TASK_COLUMNS};
use crate::store::AuditEntry;
use crate::store::{binds, BatchRecord, BatchStore, BatchWrite, NewBatch, NewTask, StoreResult};
use crate::target::TargetKind;
use crate::tasks::TaskRecord;
use crate::time::to_millis;
use crate::users::UserId;

/// Task rows per `INSERT` (15 values each, well under SQLite's 32 766 placeholders).
const TASK_ROWS_PER_INSERT: usize = 250;
/// Batch and audit rows per `INSERT` (7 and 6 values each).
const ROWS_PER_INSERT: usize = 1000;

/// The writer of groups of batches, on the one writer connection.
#[derive(Debug)]
pub(super) struct BatchWriter {
    /// The writer pool.
    pub writer: SqlitePool,
}

#[async_trait]
impl GroupWriter for BatchWriter {
    #[instrument(level = "debug", skip_all, fields(batches = batches.len()), err(level = "info"))]
    async fn write_group(&self, batches: &[NewBatch]) -> StoreResult<Vec<BatchWrite>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let writes = batch_write::write_batches(&mut *tx, batches).await?;
        tx.commit().await?;
        Ok(writes)
    }
}

#[async_trait]
impl BatchStore for SqliteStore {
    #[instrument(skip_all, fields(batch = %batch.id), err(level = "info"))]
    async fn write_batch(&self, batch: &NewBatch) -> StoreResult<BatchWrite> {
        self.batches.write(batch.clone()).await
    }

    #[instrument(skip(self), err)]
    async fn quota_history(
        &self,
        user: UserId,
        from_day: &str,
        to_day: &str,
    ) -> StoreResult<Vec<(String, QuotaUsage)>> {
        let query = sqlx::query_as(
            "SELECT day, kind, used FROM quota_usage WHERE user_id = ?1
             AND day >= ?2 AND day <= ?3 ORDER BY day",
        );
        let query = query.bind(user.0).bind(from_day).bind(to_day);
        Ok(rows::usage_by_day(query.fetch_all(&self.reader).await?))
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn quota_used(&self, user: UserId, day: &str) -> StoreResult<QuotaUsage> {
        self.reader.acquire().await?.usage(user, day).await
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn batch(&self, id: &BatchId) -> StoreResult<Option<BatchRecord>> {
        let query = sqlx::query(
            "SELECT user_id, source, created_at FROM batches
             WHERE id = ?1",
        );
        let row = query.bind(id.as_str()).fetch_optional(&self.reader).await?;
        row.map(|row| rows::batch(id, &row)).transpose()
    }
}

#[async_trait]
impl BatchTx for SqliteConnection {
    async fn earlier_batch(&mut self, batch: &NewBatch, key: &str) -> StoreResult<Option<String>> {
        let query = sqlx::query_as(
            "SELECT id FROM batches
             WHERE user_id = ?1 AND idempotency_key = ?2",
        );
        let query = query.bind(batch.user_id.0).bind(key);
        let found: Option<(String,)> = query.fetch_optional(self).await?;
        Ok(found.map(|(id,)| id))
    }

    async fn client_task(&mut self, batch: &NewBatch, id: &str) -> StoreResult<Option<TaskRecord>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks t
             WHERE t.user_id = ?1 AND t.client_task_id = ?2"
        );
        let query = sqlx::query(&sql).bind(batch.user_id.0).bind(id);
        let row = query.fetch_optional(self).await?;
        row.as_ref().map(rows::task).transpose()
    }

    async fn running(&mut self, user: UserId, regexes: &[&str]) -> StoreResult<HashSet<String>> {
        // One indexed lookup each: SQLite answers these in-process, without a round trip.
        let mut running = HashSet::new();
        for regex in regexes {
            let query = sqlx::query_as(
                "SELECT 1 FROM tasks WHERE user_id = ?1 AND target = ?2 AND kind = 'regex'
                 AND status IN ('created', 'running') LIMIT 1",
            );
            let found: Option<(i64,)> = query
                .bind(user.0)
                .bind(*regex)
                .fetch_optional(&mut *self)
                .await?;
            if found.is_some() {
                running.insert((*regex).to_owned());
            }
        }
        Ok(running)
    }

    async fn usage(&mut self, user: UserId, day: &str) -> StoreResult<QuotaUsage> {
        let query = sqlx::query_as(
            "SELECT kind, used FROM quota_usage
             WHERE user_id = ?1 AND day = ?2",
        );
        let found: Vec<(String, i64)> = query.bind(user.0).bind(day).fetch_all(self).await?;
        Ok(rows::usage(found))
    }

    async fn insert_batches(&mut self, batches: &[&NewBatch]) -> StoreResult<()> {
        for chunk in batches.chunks(ROWS_PER_INSERT) {
            let mut insert = binds::batch_rows::<Sqlite>(chunk);
            insert.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn insert_tasks(&mut self, tasks: &[(&NewBatch, &NewTask)]) -> StoreResult<()> {
        // A few multi-row statements rather than one round trip to the database thread per task.
        for chunk in tasks.chunks(TASK_ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO tasks (id, batch_id, user_id, domain_id, kind, target, client_task_id,
                                    status, created_at, callback_state, host, mode, groups,
                                    verify, prefetch_after) ",
            );
            insert.push_values(chunk, |mut row, (batch, task)| {
                row.push_bind(task.id.as_str())
                    .push_bind(batch.id.as_str())
                    .push_bind(batch.user_id.0)
                    .push_bind(task.domain_id)
                    .push_bind(task.kind.as_str())
                    .push_bind(task.target.as_str())
                    .push_bind(batch.client_task_id.as_deref())
                    .push_bind("created")
                    .push_bind(to_millis(batch.created_at))
                    .push_bind(rows::new_callback_state(batch))
                    .push_bind(task.host.as_deref())
                    .push_bind(batch.mode.as_str())
                    .push_bind(rows::joined_names(&batch.groups))
                    .push_bind(batch.verify && task.kind == TargetKind::Url)
                    .push_bind(batch.prefetch_after && task.kind == TargetKind::Url);
            });
            insert.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn add_usage(
        &mut self,
        user: UserId,
        day: &str,
        kind: TargetKind,
        by: u32,
    ) -> StoreResult<()> {
        let query = sqlx::query(
            "INSERT INTO quota_usage (user_id, day, kind, used) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user_id, day, kind) DO UPDATE SET used = used + excluded.used",
        );
        let query = query.bind(user.0).bind(day).bind(kind.as_str());
        query.bind(i64::from(by)).execute(self).await?;
        Ok(())
    }

    async fn audit(&mut self, entries: &[&AuditEntry]) -> StoreResult<()> {
        for chunk in entries.chunks(ROWS_PER_INSERT) {
            let mut insert = binds::audit_rows::<Sqlite>(chunk);
            insert.build().execute(&mut *self).await?;
        }
        Ok(())
    }
}
