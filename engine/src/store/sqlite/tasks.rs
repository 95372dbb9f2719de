//! Reading tasks and batches, and pruning old ones.

use chrono::{DateTime, Utc};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::ids::{BatchId, TaskId};
use crate::store::rows::{self, TASK_COLUMNS};
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
    // Three characters or more use the trigram index; shorter text cannot, and scans.
    let text = filter.text.as_deref().filter(|t| !t.is_empty());
    let (search, like) = match text {
        Some(text) if text.chars().count() >= 3 => {
            (Some(format!("\"{}\"", text.replace('"', "\"\""))), None)
        }
        Some(text) => {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            (None, Some(format!("%{escaped}%")))
        }
        None => (None, None),
    };
    // With a search, the matching rows drive the query (few, usually); otherwise the
    // (user_id, seq) index does, newest first (`+t.status` keeps the planner off the partial
    // index of pending tasks, which would mean sorting them all).
    let from = if search.is_some() {
        "task_search s JOIN tasks t ON t.seq = s.rowid WHERE s.task_search MATCH ?10 AND"
    } else {
        "tasks t WHERE ?10 IS NULL AND"
    };
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM {from} (?1 IS NULL OR t.user_id = ?1)
           AND (?2 IS NULL OR +t.status = ?2)
           AND (?3 IS NULL OR t.kind = ?3)
           AND (?4 IS NULL OR t.domain_id = ?4)
           AND (?5 IS NULL OR t.created_at >= ?5)
           AND (?6 IS NULL OR t.created_at < ?6)
           AND (?7 IS NULL OR t.target LIKE ?7 ESCAPE '\\')
           AND (?8 IS NULL OR t.seq < ?8)
         ORDER BY t.seq DESC LIMIT ?9"
    );
    sqlx::query(&sql)
        .bind(filter.user_id.map(|u| u.0))
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.kind.map(|k| k.as_str()))
        .bind(filter.domain_id)
        .bind(filter.from.map(to_millis))
        .bind(filter.to.map(to_millis))
        .bind(like)
        .bind(filter.before_seq)
        .bind(i64::from(filter.limit.clamp(1, 1000)))
        .bind(search)
        .fetch_all(pool)
        .await?
        .iter()
        .map(rows::task)
        .collect()
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
