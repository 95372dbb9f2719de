//! Writing submissions with their quota use on PostgreSQL: groups of them, each in one
//! transaction.
//!
//! Concurrent submissions of one user (from any instance) serialize on that user's row
//! (`SELECT … FOR UPDATE`, a group's users locked in id order so that two instances' groups
//! cannot deadlock), so the quota check and the insert see each other exactly.

use std::collections::HashSet;

use async_trait::async_trait;
use sqlx::{PgConnection, PgPool, Postgres};
use tracing::instrument;

use super::PgStore;
use crate::ids::BatchId;
use crate::quota::QuotaUsage;
use crate::store::batch_write::{self, BatchTx};
use crate::store::group_commit::GroupWriter;
use crate::store::rows::{self, TASK_COLUMNS};
use crate::store::AuditEntry;
use crate::store::{binds, BatchRecord, BatchStore, BatchWrite, NewBatch, NewTask};
use crate::store::{StoreError, StoreResult};
use crate::target::TargetKind;
use crate::tasks::TaskRecord;
use crate::time::to_millis;
use crate::users::UserId;

/// Batch and audit rows per `INSERT` (7 and 6 values each, under PostgreSQL's 65 535).
const ROWS_PER_INSERT: usize = 1000;

/// The writer of groups of batches, on one connection of the pool at a time.
#[derive(Debug)]
pub(super) struct BatchWriter {
    /// The pool.
    pub pool: PgPool,
}

#[async_trait]
impl GroupWriter for BatchWriter {
    #[instrument(level = "debug", skip_all, fields(batches = batches.len()), err(level = "info"))]
    async fn write_group(&self, batches: &[NewBatch]) -> StoreResult<Vec<BatchWrite>> {
        let mut users: Vec<i64> = batches.iter().map(|b| b.user_id.0).collect();
        users.sort_unstable();
        users.dedup();
        let mut tx = self.pool.begin().await?;
        let lock = sqlx::query_as("SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR UPDATE");
        let locked: Vec<(i64,)> = lock.bind(&users).fetch_all(&mut *tx).await?;
        if locked.len() != users.len() {
            let missing = users.iter().find(|id| !locked.contains(&(**id,)));
            return Err(StoreError::NotFound(format!(
                "user {}",
                missing.unwrap_or(&0)
            )));
        }
        let writes = batch_write::write_batches(&mut *tx, batches).await?;
        if batch_write::queued_work(&writes) {
            super::work::notify_work(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(writes)
    }
}

#[async_trait]
impl BatchStore for PgStore {
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

    async fn insert_batches(&mut self, batches: &[&NewBatch]) -> StoreResult<()> {
        for chunk in batches.chunks(ROWS_PER_INSERT) {
            let mut insert = binds::batch_rows::<Postgres>(chunk);
            insert.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn insert_tasks(&mut self, tasks: &[(&NewBatch, &NewTask)]) -> StoreResult<()> {
        // One statement for the whole group: arrays unnested into rows.
        let column = |value: fn(&NewBatch, &NewTask) -> Option<String>| -> Vec<Option<String>> {
            tasks
                .iter()
                .map(|(batch, task)| value(batch, task))
                .collect()
        };
        let ids = column(|_, t| Some(t.id.as_str().to_owned()));
        let batch_ids = column(|b, _| Some(b.id.as_str().to_owned()));
        let kinds = column(|_, t| Some(t.kind.as_str().to_owned()));
        let targets = column(|_, t| Some(t.target.clone()));
        let client_ids = column(|b, _| b.client_task_id.clone());
        let callback_states = column(|b, _| rows::new_callback_state(b).map(str::to_owned));
        let hosts = column(|_, t| t.host.clone());
        let modes = column(|b, _| Some(b.mode.as_str().to_owned()));
        let groups = column(|b, _| rows::joined_names(&b.groups));
        let users: Vec<i64> = tasks.iter().map(|(b, _)| b.user_id.0).collect();
        let domains: Vec<i64> = tasks.iter().map(|(_, t)| t.domain_id).collect();
        let created: Vec<i64> = tasks.iter().map(|(b, _)| to_millis(b.created_at)).collect();
        let url = |t: &NewTask| t.kind == TargetKind::Url;
        let verify: Vec<bool> = tasks.iter().map(|(b, t)| b.verify && url(t)).collect();
        let prefetch: Vec<bool> = tasks
            .iter()
            .map(|(b, t)| b.prefetch_after && url(t))
            .collect();
        let query = sqlx::query(
            "INSERT INTO tasks (id, batch_id, user_id, domain_id, kind, target, client_task_id,
                                status, created_at, callback_state, host, mode, groups,
                                verify, prefetch_after)
             SELECT id, batch_id, user_id, domain_id, kind, target, client_task_id, 'created',
                    created_at, callback_state, host, mode, groups, verify, prefetch_after
             FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[],
                         $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[],
                         $11::text[], $12::text[], $13::bool[], $14::bool[])
                  WITH ORDINALITY AS n (id, batch_id, user_id, domain_id, kind, target,
                                        client_task_id, created_at, callback_state, host, mode,
                                        groups, verify, prefetch_after, ord)
             ORDER BY ord",
        );
        let query = query
            .bind(&ids)
            .bind(&batch_ids)
            .bind(&users)
            .bind(&domains);
        let query = query
            .bind(&kinds)
            .bind(&targets)
            .bind(&client_ids)
            .bind(&created);
        let query = query
            .bind(&callback_states)
            .bind(&hosts)
            .bind(&modes)
            .bind(&groups);
        let query = query.bind(&verify).bind(&prefetch);
        query.execute(self).await?;
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
            "INSERT INTO quota_usage (user_id, day, kind, used) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, day, kind) DO UPDATE SET used = quota_usage.used + excluded.used",
        );
        let query = query.bind(user.0).bind(day).bind(kind.as_str());
        query.bind(i64::from(by)).execute(self).await?;
        Ok(())
    }

    async fn audit(&mut self, entries: &[&AuditEntry]) -> StoreResult<()> {
        for chunk in entries.chunks(ROWS_PER_INSERT) {
            let mut insert = binds::audit_rows::<Postgres>(chunk);
            insert.build().execute(&mut *self).await?;
        }
        Ok(())
    }
}
