//! Reading tasks and batches, and pruning old ones.

use chrono::{DateTime, Utc};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::ids::{BatchId, TaskId};
use crate::store::rows::{self, TASK_COLUMNS};
use crate::store::task_list::{bind_values, contains_pattern, page_size, Conditions, Value};
use crate::store::{BatchRecord, StoreError, TaskFilter};
use crate::tasks::{NodeBitmap, NodeFailure, TaskRecord};
use crate::time::{from_millis, to_millis};
use crate::users::UserId;

pub(super) async fn by_id(
    pool: &SqlitePool,
    id: &TaskId,
) -> Result<Option<TaskRecord>, StoreError> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = ?");
    sqlx::query(&sql)
        .bind(id.as_str())
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(rows::task)
        .transpose()
}

pub(super) async fn latest_for_target(
    pool: &SqlitePool,
    user: UserId,
    target: &str,
) -> Result<Option<TaskRecord>, StoreError> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.user_id = ? AND t.target = ? ORDER BY t.seq DESC LIMIT 1");
    sqlx::query(&sql)
        .bind(user.0)
        .bind(target)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(rows::task)
        .transpose()
}

pub(super) async fn batch(
    pool: &SqlitePool,
    id: &BatchId,
) -> Result<Option<BatchRecord>, StoreError> {
    let Some(row) = sqlx::query("SELECT id, user_id, source, created_at FROM batches WHERE id = ?")
        .bind(id.as_str())
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(BatchRecord {
        id: id.clone(),
        user_id: UserId(row.try_get("user_id")?),
        source: row.try_get("source")?,
        created_at: from_millis(row.try_get("created_at")?),
    }))
}

pub(super) async fn of_batch(
    pool: &SqlitePool,
    id: &BatchId,
) -> Result<Vec<TaskRecord>, StoreError> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.batch_id = ? ORDER BY t.seq");
    sqlx::query(&sql)
        .bind(id.as_str())
        .fetch_all(pool)
        .await?
        .iter()
        .map(rows::task)
        .collect()
}

pub(super) async fn failures(
    pool: &SqlitePool,
    id: &TaskId,
) -> Result<Vec<NodeFailure>, StoreError> {
    super::work::failures_of(pool, id).await
}

pub(super) async fn confirmed(
    pool: &SqlitePool,
    id: &TaskId,
) -> Result<Option<NodeBitmap>, StoreError> {
    let row: Option<(Option<Vec<u8>>,)> =
        sqlx::query_as("SELECT confirmed FROM tasks WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|(bytes,)| bytes).map(NodeBitmap::from_bytes))
}

pub(super) async fn pending_counts(pool: &SqlitePool) -> Result<(u64, u64), StoreError> {
    let (created, running): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(status = 'created'), 0), COALESCE(SUM(status = 'running'), 0)
         FROM tasks WHERE status IN ('created', 'running')",
    )
    .fetch_one(pool)
    .await?;
    Ok((created.max(0) as u64, running.max(0) as u64))
}

pub(super) async fn list(
    pool: &SqlitePool,
    filter: &TaskFilter,
) -> Result<Vec<TaskRecord>, StoreError> {
    let (sql, values) = list_statement(filter);
    bind_values(sqlx::query(&sql), values)
        .fetch_all(pool)
        .await?
        .iter()
        .map(rows::task)
        .collect()
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

pub(super) async fn prune(
    tx: &mut Transaction<'static, Sqlite>,
    cutoff: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let cutoff = to_millis(cutoff);
    sqlx::query(
        "DELETE FROM task_failures WHERE task_id IN
            (SELECT id FROM tasks WHERE status IN ('success', 'failed') AND finished_at < ?)",
    )
    .bind(cutoff)
    .execute(&mut **tx)
    .await?;
    let deleted =
        sqlx::query("DELETE FROM tasks WHERE status IN ('success', 'failed') AND finished_at < ?")
            .bind(cutoff)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    sqlx::query("DELETE FROM batches WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.batch_id = batches.id) AND created_at < ?")
        .bind(cutoff)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM node_sets WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.node_set_id = node_sets.id) AND created_at < ?")
        .bind(cutoff)
        .execute(&mut **tx)
        .await?;
    Ok(deleted)
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
