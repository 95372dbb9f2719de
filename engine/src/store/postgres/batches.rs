//! Writing submissions with their quota use, in one transaction, on PostgreSQL.
//!
//! Concurrent submissions of one user (from any instance) serialize on that user's row
//! (`SELECT … FOR UPDATE`), so the quota check and the insert see each other exactly.

use std::collections::HashSet;

use async_trait::async_trait;
use sqlx::PgConnection;
use tracing::instrument;

use super::PgStore;
use crate::ids::BatchId;
use crate::quota::QuotaUsage;
use crate::store::plan::{self, BatchTx};
use crate::store::rows::{self, TASK_COLUMNS};
use crate::store::AuditEntry;
use crate::store::{binds, BatchRecord, BatchStore, BatchWrite, NewBatch, NewTask};
use crate::store::{StoreError, StoreResult};
use crate::target::TargetKind;
use crate::tasks::TaskRecord;
use crate::time::to_millis;
use crate::users::UserId;

#[async_trait]
impl BatchStore for PgStore {
    #[instrument(skip_all, fields(batch = %batch.id), err(level = "info"))]
    async fn write_batch(&self, batch: &NewBatch) -> StoreResult<BatchWrite> {
        let batch = batch.clone();
        self.transaction(move |tx| {
            Box::pin(async move {
                let lock = sqlx::query_as("SELECT id FROM users WHERE id = $1 FOR UPDATE");
                let locked: Option<(i64,)> =
                    lock.bind(batch.user_id.0).fetch_optional(&mut *tx).await?;
                if locked.is_none() {
                    return Err(StoreError::NotFound(format!("user {}", batch.user_id.0)));
                }
                let write = plan::write_batch(tx, &batch).await?;
                if plan::queued_work(&write) {
                    super::work::notify_work(tx).await?;
                }
                Ok(write)
            })
        })
        .await
    }

    #[instrument(skip(self), err)]
    async fn quota_history(
        &self,
        user: UserId,
        from_day: &str,
        to_day: &str,
    ) -> StoreResult<Vec<(String, QuotaUsage)>> {
        let query = sqlx::query_as(
            "SELECT day, kind, used FROM quota_usage WHERE user_id = $1
             AND day >= $2 AND day <= $3 ORDER BY day",
        );
        let query = query.bind(user.0).bind(from_day).bind(to_day);
        Ok(rows::usage_by_day(query.fetch_all(&self.pool).await?))
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn quota_used(&self, user: UserId, day: &str) -> StoreResult<QuotaUsage> {
        self.pool.acquire().await?.usage(user, day).await
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn batch(&self, id: &BatchId) -> StoreResult<Option<BatchRecord>> {
        let query = sqlx::query(
            "SELECT user_id, source, created_at FROM batches
             WHERE id = $1",
        );
        let row = query.bind(id.as_str()).fetch_optional(&self.pool).await?;
        row.map(|row| rows::batch(id, &row)).transpose()
    }
}

#[async_trait]
impl BatchTx for PgConnection {
    async fn earlier_batch(&mut self, batch: &NewBatch, key: &str) -> StoreResult<Option<String>> {
        let query = sqlx::query_as(
            "SELECT id FROM batches
             WHERE user_id = $1 AND idempotency_key = $2",
        );
        let query = query.bind(batch.user_id.0).bind(key);
        let found: Option<(String,)> = query.fetch_optional(self).await?;
        Ok(found.map(|(id,)| id))
    }

    async fn client_task(&mut self, batch: &NewBatch, id: &str) -> StoreResult<Option<TaskRecord>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks t
             WHERE t.user_id = $1 AND t.client_task_id = $2"
        );
        let query = sqlx::query(&sql).bind(batch.user_id.0).bind(id);
        let row = query.fetch_optional(self).await?;
        row.as_ref().map(rows::task).transpose()
    }

    async fn running(&mut self, user: UserId, regexes: &[&str]) -> StoreResult<HashSet<String>> {
        // One round trip for all of them.
        let query = sqlx::query_as(
            "SELECT DISTINCT target FROM tasks WHERE user_id = $1 AND kind = 'regex'
             AND status IN ('created', 'running') AND target = ANY($2)",
        );
        let found: Vec<(String,)> = query.bind(user.0).bind(regexes).fetch_all(self).await?;
        Ok(found.into_iter().map(|(target,)| target).collect())
    }

    async fn usage(&mut self, user: UserId, day: &str) -> StoreResult<QuotaUsage> {
        let query = sqlx::query_as(
            "SELECT kind, used FROM quota_usage
             WHERE user_id = $1 AND day = $2",
        );
        let found: Vec<(String, i64)> = query.bind(user.0).bind(day).fetch_all(self).await?;
        Ok(rows::usage(found))
    }

    async fn insert_batch(&mut self, batch: &NewBatch) -> StoreResult<()> {
        let query = sqlx::query(
            "INSERT INTO batches
                (id, user_id, api_key_id, source, idempotency_key, callback_url, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        );
        binds::new_batch(query, batch).execute(self).await?;
        Ok(())
    }

    async fn insert_tasks(&mut self, batch: &NewBatch, tasks: &[&NewTask]) -> StoreResult<()> {
        // One statement for the whole batch: arrays unnested into rows.
        let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        let domains: Vec<i64> = tasks.iter().map(|t| t.domain_id).collect();
        let kinds: Vec<&str> = tasks.iter().map(|t| t.kind.as_str()).collect();
        let targets: Vec<&str> = tasks.iter().map(|t| t.target.as_str()).collect();
        let hosts: Vec<Option<&str>> = tasks.iter().map(|t| t.host.as_deref()).collect();
        let query = sqlx::query(
            "INSERT INTO tasks (id, batch_id, user_id, domain_id, kind, target, client_task_id,
                                status, created_at, callback_state, host, mode, groups,
                                verify, prefetch_after)
             SELECT id, $1, $2, domain_id, kind, target, $3, 'created', $4, $5, host, $11, $12,
                    $13 AND kind = 'url', $14 AND kind = 'url'
             FROM UNNEST($6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[])
                  WITH ORDINALITY AS n (id, domain_id, kind, target, host, ord)
             ORDER BY ord",
        );
        let query = query.bind(batch.id.as_str()).bind(batch.user_id.0);
        let query = query
            .bind(&batch.client_task_id)
            .bind(to_millis(batch.created_at));
        let query = query.bind(rows::new_callback_state(batch));
        let query = query.bind(&ids).bind(&domains);
        let query = query.bind(&kinds).bind(&targets).bind(&hosts);
        let query = query.bind(batch.mode.as_str());
        let query = query.bind(rows::joined_names(&batch.groups));
        let query = query.bind(batch.verify).bind(batch.prefetch_after);
        query.execute(self).await?;
        Ok(())
    }

    async fn add_usage(&mut self, batch: &NewBatch, kind: TargetKind, by: u32) -> StoreResult<()> {
        let query = sqlx::query(
            "INSERT INTO quota_usage (user_id, day, kind, used) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, day, kind) DO UPDATE SET used = quota_usage.used + excluded.used",
        );
        let query = query
            .bind(batch.user_id.0)
            .bind(&batch.day)
            .bind(kind.as_str());
        query.bind(i64::from(by)).execute(self).await?;
        Ok(())
    }

    async fn audit(&mut self, entry: &AuditEntry) -> StoreResult<()> {
        super::audit::append(self, entry).await
    }
}
