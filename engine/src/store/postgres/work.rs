//! Claiming tasks with leases, and writing fan-out progress, on PostgreSQL.
//!
//! Claims lock their rows with `FOR UPDATE SKIP LOCKED`: instances claiming at the same moment
//! never wait for each other and never take the same task.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::signals::WORK_CHANNEL;
use crate::ids::TaskId;
use crate::store::rows::{self, TASK_COLUMNS, WAITING_USERS};
use crate::store::{ClaimRequest, ClaimedTask, StoreError, TaskProgress};
use crate::tasks::{FailureReason, NodeBitmap, NodeFailure, TaskStatus};
use crate::time::to_millis;

pub(super) async fn claim(
    tx: &mut Transaction<'static, Postgres>,
    request: &ClaimRequest,
) -> Result<Vec<ClaimedTask>, StoreError> {
    let now = to_millis(request.now);
    let skip: Vec<i64> = request.skip_users.iter().map(|u| u.0).collect();
    // As in the SQLite store: expired leases first, then up to $3 waiting tasks of each user in
    // turns, the users found by skipping through the `tasks_waiting` index. The rows are locked
    // and checked again, so instances claiming at once never take the same task.
    let sql = format!(
        "WITH RECURSIVE {WAITING_USERS},
         picked (seq, turn) AS (
            SELECT seq, 0::bigint FROM tasks
            WHERE status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < $1)
              AND user_id <> ALL($2)
            UNION ALL
            SELECT t.seq, ROW_NUMBER() OVER (PARTITION BY t.user_id ORDER BY t.seq)
            FROM waiting w JOIN LATERAL (
                SELECT seq, user_id FROM tasks
                WHERE user_id = w.user_id AND status = 'created' ORDER BY seq LIMIT $3
            ) t ON true
            WHERE w.user_id IS NOT NULL AND w.user_id <> ALL($2)
         )
         SELECT {TASK_COLUMNS}, t.confirmed FROM picked p JOIN tasks t ON t.seq = p.seq
         WHERE t.status IN ('created', 'running')
           AND (t.lease_expires_at IS NULL OR t.lease_expires_at < $1)
         ORDER BY p.turn, t.seq LIMIT $4
         FOR UPDATE OF t SKIP LOCKED"
    );
    let found = sqlx::query(&sql)
        .bind(now)
        .bind(&skip)
        .bind(i64::from(request.per_user))
        .bind(i64::from(request.limit))
        .fetch_all(&mut **tx)
        .await?;

    let deadline = request.now + request.task_deadline;
    let mut node_sets: HashMap<i64, (i64, u32)> = HashMap::new();
    let mut claimed = Vec::with_capacity(found.len());
    for row in &found {
        let mut task = rows::task(row)?;
        let (node_set_id, confirmed) = match task.node_set_id {
            Some(id) => {
                let bytes: Option<Vec<u8>> = row.try_get("confirmed")?;
                (id, NodeBitmap::from_bytes(bytes.unwrap_or_default()))
            }
            None => {
                let (id, total) = match node_sets.get(&task.domain_id) {
                    Some(frozen) => *frozen,
                    None => {
                        let nodes =
                            super::fleet::nodes_for_domain(&mut **tx, task.domain_id).await?;
                        let id = super::fleet::freeze_node_set(tx, &nodes, request.now).await?;
                        let frozen = (id, nodes.len() as u32);
                        node_sets.insert(task.domain_id, frozen);
                        frozen
                    }
                };
                task.node_set_id = Some(id);
                task.total = total;
                task.started_at = Some(request.now);
                (id, NodeBitmap::new(total as usize))
            }
        };
        task.status = TaskStatus::Running;
        sqlx::query(
            "UPDATE tasks SET status = 'running', node_set_id = $1, total = $2, confirmed = $3,
                started_at = COALESCE(started_at, $4), deadline_at = $5, lease_owner = $6,
                lease_expires_at = $7
             WHERE id = $8",
        )
        .bind(node_set_id)
        .bind(i64::from(task.total))
        .bind(confirmed.as_bytes())
        .bind(now)
        .bind(to_millis(deadline))
        .bind(&request.owner)
        .bind(to_millis(request.lease_until))
        .bind(task.id.as_str())
        .execute(&mut **tx)
        .await?;
        let failures = if task.failed > 0 {
            failures_of(&mut **tx, &task.id).await?
        } else {
            Vec::new()
        };
        claimed.push(ClaimedTask {
            task,
            node_set_id,
            confirmed,
            failures,
            deadline,
        });
    }
    Ok(claimed)
}

pub(super) async fn failures_of<'e, E>(
    executor: E,
    task: &TaskId,
) -> Result<Vec<NodeFailure>, StoreError>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    sqlx::query(
        "SELECT node_index, reason, attempts, detail FROM task_failures WHERE task_id = $1
         ORDER BY node_index",
    )
    .bind(task.as_str())
    .fetch_all(executor)
    .await?
    .iter()
    .map(rows::failure)
    .collect()
}

pub(super) async fn record_progress(
    tx: &mut Transaction<'static, Postgres>,
    owner: &str,
    progress: &[TaskProgress],
) -> Result<Vec<TaskId>, StoreError> {
    let mut lost = Vec::new();
    for update in progress {
        let result = match update.finished {
            Some((status, at)) => {
                sqlx::query(
                    "UPDATE tasks SET success = $1, failed = $2, confirmed = NULL, status = $3,
                        finished_at = $4, lease_owner = NULL, lease_expires_at = NULL,
                        callback_state = CASE WHEN callback_url IS NOT NULL THEN 'pending' END,
                        callback_next_at = CASE WHEN callback_url IS NOT NULL THEN $4 END
                     WHERE id = $5 AND lease_owner = $6",
                )
                .bind(i64::from(update.success))
                .bind(i64::from(update.failed))
                .bind(status.as_str())
                .bind(to_millis(at))
                .bind(update.task_id.as_str())
                .bind(owner)
                .execute(&mut **tx)
                .await?
            }
            None => {
                sqlx::query(
                    "UPDATE tasks SET success = $1, failed = $2, confirmed = $3
                     WHERE id = $4 AND lease_owner = $5",
                )
                .bind(i64::from(update.success))
                .bind(i64::from(update.failed))
                .bind(update.confirmed.as_bytes())
                .bind(update.task_id.as_str())
                .bind(owner)
                .execute(&mut **tx)
                .await?
            }
        };
        if result.rows_affected() == 0 {
            lost.push(update.task_id.clone());
            continue;
        }
        for failure in &update.new_failures {
            sqlx::query(
                "INSERT INTO task_failures (task_id, node_index, reason, attempts, detail)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (task_id, node_index) DO UPDATE SET reason = excluded.reason,
                    attempts = excluded.attempts, detail = excluded.detail",
            )
            .bind(update.task_id.as_str())
            .bind(i64::from(failure.node_index))
            .bind(failure.reason.as_str())
            .bind(i64::from(failure.attempts))
            .bind(&failure.detail)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(lost)
}

pub(super) async fn renew_leases(
    pool: &PgPool,
    owner: &str,
    tasks: &[TaskId],
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    let ids: Vec<&str> = tasks.iter().map(TaskId::as_str).collect();
    sqlx::query("UPDATE tasks SET lease_expires_at = $1 WHERE lease_owner = $2 AND id = ANY($3)")
        .bind(to_millis(until))
        .bind(owner)
        .bind(&ids)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn release_leases(pool: &PgPool, owner: &str) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let released = sqlx::query(
        "UPDATE tasks SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1",
    )
    .bind(owner)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if released > 0 {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(WORK_CHANNEL)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn requeue_failed_nodes(
    tx: &mut Transaction<'static, Postgres>,
    task_id: &TaskId,
) -> Result<bool, StoreError> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = $1 FOR UPDATE");
    let Some(row) = sqlx::query(&sql)
        .bind(task_id.as_str())
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(false);
    };
    let task = rows::task(&row)?;
    if task.status != TaskStatus::Failed {
        return Ok(false);
    }
    let failures = failures_of(&mut **tx, task_id).await?;
    let unsupported = FailureReason::unsupported();
    let retried: Vec<i64> = failures
        .iter()
        .filter(|f| f.reason != unsupported)
        .map(|f| i64::from(f.node_index))
        .collect();
    if retried.is_empty() {
        return Ok(false);
    }
    // Only the failed nodes are asked again: the others confirmed and are never asked twice.
    let bitmap = crate::store::plan::confirmed_except(task.total, &failures);
    sqlx::query("DELETE FROM task_failures WHERE task_id = $1 AND node_index = ANY($2)")
        .bind(task_id.as_str())
        .bind(&retried)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE tasks SET status = 'running', failed = $1, confirmed = $2, finished_at = NULL,
            lease_owner = NULL, lease_expires_at = NULL, callback_state = NULL,
            callback_next_at = NULL, callback_attempts = 0
         WHERE id = $3",
    )
    .bind(i64::from(task.failed) - retried.len() as i64)
    .bind(bitmap.as_bytes())
    .bind(task_id.as_str())
    .execute(&mut **tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(WORK_CHANNEL)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}
