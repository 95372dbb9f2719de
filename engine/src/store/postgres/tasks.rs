//! Reading tasks and batches, and pruning old ones, on PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::ids::{BatchId, TaskId};
use crate::store::rows::{self, TASK_COLUMNS};
use crate::store::task_list::{bind_values, contains_pattern, page_size, Conditions, Value};
use crate::store::{BatchRecord, StoreError, TaskFilter};
use crate::tasks::{NodeBitmap, TaskRecord};
use crate::time::{from_millis, to_millis};
use crate::users::UserId;

/// Tasks matching `condition` (a `WHERE` clause over `t` with one `$1` parameter).
async fn where_one(
    pool: &PgPool,
    condition: &str,
    value: &str,
) -> Result<Vec<TaskRecord>, StoreError> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE {condition}");
    sqlx::query(&sql)
        .bind(value)
        .fetch_all(pool)
        .await?
        .iter()
        .map(rows::task)
        .collect()
}

pub(super) async fn by_id(pool: &PgPool, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> {
    Ok(where_one(pool, "t.id = $1", id.as_str()).await?.pop())
}

pub(super) async fn of_batch(pool: &PgPool, id: &BatchId) -> Result<Vec<TaskRecord>, StoreError> {
    where_one(pool, "t.batch_id = $1 ORDER BY t.seq", id.as_str()).await
}

pub(super) async fn latest_for_target(
    pool: &PgPool,
    user: UserId,
    target: &str,
) -> Result<Option<TaskRecord>, StoreError> {
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.user_id = $1 AND t.target = $2
         ORDER BY t.seq DESC LIMIT 1"
    );
    sqlx::query(&sql)
        .bind(user.0)
        .bind(target)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(rows::task)
        .transpose()
}

pub(super) async fn batch(pool: &PgPool, id: &BatchId) -> Result<Option<BatchRecord>, StoreError> {
    let Some(row) = sqlx::query("SELECT user_id, source, created_at FROM batches WHERE id = $1")
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

pub(super) async fn confirmed(
    pool: &PgPool,
    id: &TaskId,
) -> Result<Option<NodeBitmap>, StoreError> {
    let row: Option<(Option<Vec<u8>>,)> =
        sqlx::query_as("SELECT confirmed FROM tasks WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|(bytes,)| bytes).map(NodeBitmap::from_bytes))
}

pub(super) async fn pending_counts(pool: &PgPool) -> Result<(u64, u64), StoreError> {
    let (created, running): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE status = 'created'), COUNT(*) FILTER (WHERE status = 'running')
         FROM tasks WHERE status IN ('created', 'running')",
    )
    .fetch_one(pool)
    .await?;
    Ok((created.max(0) as u64, running.max(0) as u64))
}

pub(super) async fn list(
    pool: &PgPool,
    filter: &TaskFilter,
) -> Result<Vec<TaskRecord>, StoreError> {
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
    bind_values(sqlx::query(&sql), conditions.values)
        .fetch_all(pool)
        .await?
        .iter()
        .map(rows::task)
        .collect()
}

pub(super) async fn prune(
    tx: &mut Transaction<'static, Postgres>,
    cutoff: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let cutoff = to_millis(cutoff);
    // Failures go with their tasks (ON DELETE CASCADE).
    let deleted =
        sqlx::query("DELETE FROM tasks WHERE status IN ('success', 'failed') AND finished_at < $1")
            .bind(cutoff)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    sqlx::query(
        "DELETE FROM batches b WHERE b.created_at < $1
         AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.batch_id = b.id)",
    )
    .bind(cutoff)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "DELETE FROM node_sets s WHERE s.created_at < $1
         AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.node_set_id = s.id)",
    )
    .bind(cutoff)
    .execute(&mut **tx)
    .await?;
    Ok(deleted)
}
