//! Reading tasks and their results, and pruning old ones, on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::instrument;

use super::PgStore;
use crate::ids::{BatchId, TaskId};
use crate::store::claim::WorkTx;
use crate::store::rows::{self, TASK_COLUMNS};
use crate::store::task_list::{bind_values, contains_pattern, page_size, Conditions, Value};
use crate::store::{StoreResult, TaskFilter, TaskStore};
use crate::tasks::{NodeBitmap, NodeFailure, TaskRecord};
use crate::time::to_millis;
use crate::users::UserId;

#[async_trait]
impl TaskStore for PgStore {
    #[instrument(skip(self), err)]
    async fn latest_url_task(&self, user: UserId, target: &str) -> StoreResult<Option<TaskRecord>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.user_id = $1 AND t.target = $2 AND t.kind = 'url'
             ORDER BY t.seq DESC LIMIT 1"
        );
        let query = sqlx::query(&sql).bind(user.0).bind(target);
        let row = query.fetch_optional(&self.pool).await?;
        row.as_ref().map(rows::task).transpose()
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn task(&self, id: &TaskId) -> StoreResult<Option<TaskRecord>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks t
             WHERE t.id = $1"
        );
        let query = sqlx::query(&sql).bind(id.as_str());
        let row = query.fetch_optional(&self.pool).await?;
        row.as_ref().map(rows::task).transpose()
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn tasks_of_batch(&self, id: &BatchId) -> StoreResult<Vec<TaskRecord>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks t
             WHERE t.batch_id = $1 ORDER BY t.seq"
        );
        let query = sqlx::query(&sql).bind(id.as_str());
        let found = query.fetch_all(&self.pool).await?;
        found.iter().map(rows::task).collect()
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn task_confirmed(&self, id: &TaskId) -> StoreResult<Option<NodeBitmap>> {
        let query = sqlx::query_as(
            "SELECT confirmed FROM tasks
             WHERE id = $1",
        );
        let query = query.bind(id.as_str());
        let row: Option<(Option<Vec<u8>>,)> = query.fetch_optional(&self.pool).await?;
        Ok(row.and_then(|(bytes,)| bytes).map(NodeBitmap::from_bytes))
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn pending_counts(&self) -> StoreResult<(u64, u64)> {
        let query = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE status = 'created'),
                COUNT(*) FILTER (WHERE status = 'running')
             FROM tasks WHERE status IN ('created', 'running')",
        );
        let (created, running): (i64, i64) = query.fetch_one(&self.pool).await?;
        Ok((created.max(0) as u64, running.max(0) as u64))
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn outcomes_by_quarter_hour(
        &self,
        user: Option<UserId>,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(i64, u64, u64)>> {
        let query = sqlx::query_as(
            "SELECT created_at / 900000 AS slot,
                COUNT(*) FILTER (WHERE status = 'success'), COUNT(*) FILTER (WHERE status = 'failed')
             FROM tasks WHERE created_at >= $1 AND ($2::BIGINT IS NULL OR user_id = $2)
             GROUP BY slot ORDER BY slot",
        )
        .bind(to_millis(since))
        .bind(user.map(|u| u.0));
        let counts: Vec<(i64, i64, i64)> = query.fetch_all(&self.pool).await?;
        Ok(rows::slot_outcomes(counts))
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn task_failures(&self, id: &TaskId) -> StoreResult<Vec<NodeFailure>> {
        self.pool.acquire().await?.failures_of(id).await
    }

    #[instrument(skip(self), err)]
    async fn list_tasks(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskRecord>> {
        let mut conditions = Conditions::of(filter, 1, |n| format!("${n}"));
        // ILIKE with three characters or more is served by the trigram index.
        if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
            conditions.push("t.target ILIKE ", Value::Text(contains_pattern(text)));
        }
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks t WHERE TRUE{} ORDER BY t.seq DESC LIMIT {}",
            conditions.sql,
            page_size(filter)
        );
        let query = bind_values(sqlx::query(&sql), conditions.values);
        let found = query.fetch_all(&self.pool).await?;
        found.iter().map(rows::task).collect()
    }

    #[instrument(skip(self), err)]
    async fn prune_tasks(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let cutoff = to_millis(cutoff);
        self.transaction(move |tx| {
            Box::pin(async move {
                // Failures go with their tasks (ON DELETE CASCADE).
                let tasks = sqlx::query(
                    "DELETE FROM tasks
                     WHERE status IN ('success', 'failed') AND finished_at < $1",
                );
                let deleted = tasks.bind(cutoff).execute(&mut *tx).await?.rows_affected();
                let batches = sqlx::query(
                    "DELETE FROM batches b WHERE b.created_at < $1
                     AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.batch_id = b.id)",
                );
                batches.bind(cutoff).execute(&mut *tx).await?;
                let node_sets = sqlx::query(
                    "DELETE FROM node_sets s WHERE s.created_at < $1
                     AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.node_set_id = s.id)",
                );
                node_sets.bind(cutoff).execute(&mut *tx).await?;
                Ok(deleted)
            })
        })
        .await
    }
}
