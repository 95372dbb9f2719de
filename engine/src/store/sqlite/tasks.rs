//! Reading tasks and their results, and pruning old ones.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::instrument;

use super::SqliteStore;
use crate::ids::{BatchId, TaskId};
use crate::store::claim::WorkTx;
use crate::store::rows::{self, TASK_COLUMNS};
use crate::store::task_list::{bind_values, contains_pattern, page_size, Conditions, Value};
use crate::store::{StoreResult, TaskFilter, TaskStore};
use crate::tasks::{NodeBitmap, NodeFailure, TaskRecord};
use crate::time::to_millis;
use crate::users::UserId;

#[async_trait]
impl TaskStore for SqliteStore {
    #[instrument(skip(self), err)]
    async fn latest_url_task(&self, user: UserId, target: &str) -> StoreResult<Option<TaskRecord>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.user_id = ?1 AND t.target = ?2 AND t.kind = 'url'
             ORDER BY t.seq DESC LIMIT 1"
        );
        let query = sqlx::query(&sql).bind(user.0).bind(target);
        let row = query.fetch_optional(&self.reader).await?;
        row.as_ref().map(rows::task).transpose()
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn task(&self, id: &TaskId) -> StoreResult<Option<TaskRecord>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks t
             WHERE t.id = ?1"
        );
        let query = sqlx::query(&sql).bind(id.as_str());
        let row = query.fetch_optional(&self.reader).await?;
        row.as_ref().map(rows::task).transpose()
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn tasks_of_batch(&self, id: &BatchId) -> StoreResult<Vec<TaskRecord>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks t
             WHERE t.batch_id = ?1 ORDER BY t.seq"
        );
        let query = sqlx::query(&sql).bind(id.as_str());
        let found = query.fetch_all(&self.reader).await?;
        found.iter().map(rows::task).collect()
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn task_confirmed(&self, id: &TaskId) -> StoreResult<Option<NodeBitmap>> {
        let query = sqlx::query_as(
            "SELECT confirmed FROM tasks
             WHERE id = ?1",
        );
        let query = query.bind(id.as_str());
        let row: Option<(Option<Vec<u8>>,)> = query.fetch_optional(&self.reader).await?;
        Ok(row.and_then(|(bytes,)| bytes).map(NodeBitmap::from_bytes))
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn pending_counts(&self) -> StoreResult<(u64, u64)> {
        let query = sqlx::query_as(
            "SELECT COALESCE(SUM(status = 'created'), 0), COALESCE(SUM(status = 'running'), 0)
             FROM tasks WHERE status IN ('created', 'running')",
        );
        let (created, running): (i64, i64) = query.fetch_one(&self.reader).await?;
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
                COALESCE(SUM(status = 'success'), 0), COALESCE(SUM(status = 'failed'), 0)
             FROM tasks WHERE created_at >= ?1 AND (?2 IS NULL OR user_id = ?2)
             GROUP BY slot ORDER BY slot",
        )
        .bind(to_millis(since))
        .bind(user.map(|u| u.0));
        let counts: Vec<(i64, i64, i64)> = query.fetch_all(&self.reader).await?;
        Ok(rows::slot_outcomes(counts))
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn task_failures(&self, id: &TaskId) -> StoreResult<Vec<NodeFailure>> {
        self.reader.acquire().await?.failures_of(id).await
    }

    #[instrument(skip(self), err)]
    async fn list_tasks(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskRecord>> {
        let (sql, values) = list_statement(filter);
        let query = bind_values(sqlx::query(&sql), values);
        let found = query.fetch_all(&self.reader).await?;
        found.iter().map(rows::task).collect()
    }

    #[instrument(skip(self), err)]
    async fn prune_tasks(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let cutoff = to_millis(cutoff);
        self.transaction(move |tx| {
            Box::pin(async move {
                let failures = sqlx::query(
                    "DELETE FROM task_failures WHERE task_id IN (SELECT id FROM tasks
                        WHERE status IN ('success', 'failed') AND finished_at < ?1)",
                );
                failures.bind(cutoff).execute(&mut *tx).await?;
                let tasks = sqlx::query(
                    "DELETE FROM tasks
                     WHERE status IN ('success', 'failed') AND finished_at < ?1",
                );
                let deleted = tasks.bind(cutoff).execute(&mut *tx).await?.rows_affected();
                let batches = sqlx::query(
                    "DELETE FROM batches WHERE created_at < ?1
                     AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.batch_id = batches.id)",
                );
                batches.bind(cutoff).execute(&mut *tx).await?;
                let node_sets = sqlx::query(
                    "DELETE FROM node_sets WHERE created_at < ?1
                     AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.node_set_id = node_sets.id)",
                );
                node_sets.bind(cutoff).execute(&mut *tx).await?;
                Ok(deleted)
            })
        })
        .await
    }
}

/// The statement listing `filter`'s tasks, newest first, and its values.
fn list_statement(filter: &TaskFilter) -> (String, Vec<Value>) {
    // Three characters or more use the trigram index, whose matches then drive the query (few,
    // usually; CROSS JOIN keeps SQLite from walking the user's whole history instead); shorter
    // text cannot, and is a LIKE over the rows the other filters leave.
    let text = filter.text.as_deref().filter(|t| !t.is_empty());
    let search = text
        .filter(|t| t.chars().count() >= 3)
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")));
    let (from, first) = if search.is_some() {
        (
            "task_search s CROSS JOIN tasks t ON t.seq = s.rowid WHERE s.task_search MATCH ?1",
            2,
        )
    } else {
        ("tasks t WHERE 1 = 1", 1)
    };
    let mut conditions = Conditions::of(filter, first, |n| format!("?{n}"));
    if let Some(text) = text.filter(|_| search.is_none()) {
        conditions.push("t.target LIKE ", Value::Text(contains_pattern(text)));
        conditions.sql.push_str(" ESCAPE '\\'");
    }
    if filter.user_id.is_none() {
        // Without a user, a status is better filtered along the newest-first scan than looked up
        // in the partial index of pending tasks, which would mean sorting them all.
        conditions.sql = conditions.sql.replacen("t.status = ", "+t.status = ", 1);
    }
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM {from}{} ORDER BY t.seq DESC LIMIT {}",
        conditions.sql,
        page_size(filter)
    );
    let values = search
        .map(Value::Text)
        .into_iter()
        .chain(conditions.values)
        .collect();
    (sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::TargetKind;
    use crate::tasks::TaskStatus;

    #[tokio::test]
    async fn every_history_filter_seeks_an_index_and_never_sorts() {
        let user = Some(UserId(1));
        let deep = Some(1_000);
        let cases = [
            (
                "own, deep",
                TaskFilter {
                    user_id: user,
                    before_seq: deep,
                    ..Default::default()
                },
                "tasks_user_seq",
            ),
            (
                "by status, deep",
                TaskFilter {
                    user_id: user,
                    status: Some(TaskStatus::Created),
                    before_seq: deep,
                    ..Default::default()
                },
                "tasks_user_status_seq",
            ),
            (
                "by kind, deep",
                TaskFilter {
                    user_id: user,
                    kind: Some(TargetKind::Prefix),
                    before_seq: deep,
                    ..Default::default()
                },
                "tasks_user_seq",
            ),
            (
                "by text",
                TaskFilter {
                    user_id: user,
                    text: Some("asset/42".into()),
                    ..Default::default()
                },
                "SCAN s VIRTUAL TABLE",
            ),
            (
                "every user, by status",
                TaskFilter {
                    status: Some(TaskStatus::Created),
                    before_seq: deep,
                    ..Default::default()
                },
                "INTEGER PRIMARY KEY",
            ),
        ];
        for (name, mut filter, index) in cases {
            filter.limit = 50;
            let (sql, values) = list_statement(&filter);
            let plan = super::super::query_plan(&sql, values).await;
            let first_step = plan.lines().next().unwrap_or_default();
            assert!(
                first_step.contains(index),
                "{name}: expected {index} first in\n{plan}"
            );
            if filter.text.is_none() {
                assert!(!plan.contains("TEMP B-TREE"), "{name} sorts:\n{plan}");
            }
        }
    }
}
