//! Claiming tasks with leases, and writing fan-out progress.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::ids::TaskId;
use crate::store::rows::{self, TASK_COLUMNS, WAITING_USERS};
use crate::store::{ClaimRequest, ClaimedTask, StoreError, TaskProgress};
use crate::tasks::{FailureReason, NodeBitmap, NodeFailure, TaskStatus};
use crate::time::to_millis;

/// The statement that picks the tasks a claim takes, oldest first: tasks whose lease ran out
/// (another instance died or let go of them), then up to `per_user` waiting tasks of each user,
/// taken in turns (every user's first, then every user's second, ...). The users with waiting
/// tasks are found by skipping through the `tasks_waiting` index, one seek per user, so a claim
/// costs the same with ten waiting tasks as with a million; leases are looked up in the
/// `tasks_leased` index of running tasks (`CROSS JOIN` keeps SQLite from scanning the tasks to
/// join the few picked ones). Binds: now, the skipped users (once
/// for leases, once for waiting tasks), per user, limit.
fn claim_statement(skipped_users: usize) -> String {
    let skip = vec!["?"; skipped_users].join(", ");
    format!(
        "WITH RECURSIVE {WAITING_USERS},
         picked (seq, turn) AS (
            SELECT seq, 0 FROM tasks
            WHERE status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < ?)
              AND user_id NOT IN ({skip})
            UNION ALL
            SELECT t.seq, ROW_NUMBER() OVER (PARTITION BY t.user_id ORDER BY t.seq)
            FROM waiting w JOIN tasks t ON t.seq IN (
                SELECT seq FROM tasks WHERE user_id = w.user_id AND status = 'created' ORDER BY seq LIMIT ?
            )
            WHERE w.user_id IS NOT NULL AND w.user_id NOT IN ({skip})
         )
         SELECT {TASK_COLUMNS}, t.confirmed, t.deadline_at
         FROM picked p CROSS JOIN tasks t ON t.seq = p.seq
         ORDER BY p.turn, t.seq LIMIT ?"
    )
}

pub(super) async fn claim(
    tx: &mut Transaction<'static, Sqlite>,
    request: &ClaimRequest,
) -> Result<Vec<ClaimedTask>, StoreError> {
    let now = to_millis(request.now);
    let sql = claim_statement(request.skip_users.len());
    let mut query = sqlx::query(&sql).bind(now);
    for user in &request.skip_users {
        query = query.bind(user.0);
    }
    query = query.bind(i64::from(request.per_user));
    for user in &request.skip_users {
        query = query.bind(user.0);
    }
    let rows = query
        .bind(i64::from(request.limit))
        .fetch_all(&mut **tx)
        .await?;

    let deadline = request.now + request.task_deadline;
    let mut node_sets: HashMap<i64, (i64, u32)> = HashMap::new();
    let mut claimed = Vec::with_capacity(rows.len());
    for row in &rows {
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
            "UPDATE tasks SET status = 'running', node_set_id = ?, total = ?, confirmed = ?,
                started_at = COALESCE(started_at, ?), deadline_at = ?, lease_owner = ?, lease_expires_at = ?
             WHERE id = ?",
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
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    sqlx::query("SELECT node_index, reason, attempts, detail FROM task_failures WHERE task_id = ? ORDER BY node_index")
        .bind(task.as_str())
        .fetch_all(executor)
        .await?
        .iter()
        .map(rows::failure)
        .collect()
}

pub(super) async fn record_progress(
    tx: &mut Transaction<'static, Sqlite>,
    owner: &str,
    progress: &[TaskProgress],
) -> Result<Vec<TaskId>, StoreError> {
    let mut lost = Vec::new();
    for update in progress {
        let result = match update.finished {
            Some((status, at)) => {
                sqlx::query(
                    "UPDATE tasks SET success = ?, failed = ?, confirmed = NULL, status = ?, finished_at = ?,
                        lease_owner = NULL, lease_expires_at = NULL,
                        callback_state = CASE WHEN callback_url IS NOT NULL THEN 'pending' END,
                        callback_next_at = CASE WHEN callback_url IS NOT NULL THEN ? END
                     WHERE id = ? AND lease_owner = ?",
                )
                .bind(i64::from(update.success))
                .bind(i64::from(update.failed))
                .bind(status.as_str())
                .bind(to_millis(at))
                .bind(to_millis(at))
                .bind(update.task_id.as_str())
                .bind(owner)
                .execute(&mut **tx)
                .await?
            }
            None => {
                sqlx::query("UPDATE tasks SET success = ?, failed = ?, confirmed = ? WHERE id = ? AND lease_owner = ?")
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
                "INSERT OR REPLACE INTO task_failures (task_id, node_index, reason, attempts, detail)
                 VALUES (?, ?, ?, ?, ?)",
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
    tx: &mut Transaction<'static, Sqlite>,
    owner: &str,
    tasks: &[TaskId],
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in tasks.chunks(500) {
        let ids = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "UPDATE tasks SET lease_expires_at = ? WHERE lease_owner = ? AND id IN ({ids})"
        );
        let mut query = sqlx::query(&sql).bind(to_millis(until)).bind(owner);
        for id in chunk {
            query = query.bind(id.as_str());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

pub(super) async fn release_leases(pool: &SqlitePool, owner: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE tasks SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = ?",
    )
    .bind(owner)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn requeue_failed_nodes(
    tx: &mut Transaction<'static, Sqlite>,
    task_id: &TaskId,
) -> Result<bool, StoreError> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = ?");
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
    let retried: Vec<&NodeFailure> = failures
        .iter()
        .filter(|f| f.reason != unsupported)
        .collect();
    if retried.is_empty() {
        return Ok(false);
    }
    // Only the failed nodes are asked again: the others confirmed and are never asked twice.
    let bitmap = crate::store::plan::confirmed_except(task.total, &failures);
    for failure in &retried {
        sqlx::query("DELETE FROM task_failures WHERE task_id = ? AND node_index = ?")
            .bind(task_id.as_str())
            .bind(i64::from(failure.node_index))
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "UPDATE tasks SET status = 'running', failed = ?, confirmed = ?, finished_at = NULL,
            lease_owner = NULL, lease_expires_at = NULL, callback_state = NULL, callback_next_at = NULL,
            callback_attempts = 0
         WHERE id = ?",
    )
    .bind(i64::from(task.failed) - retried.len() as i64)
    .bind(bitmap.as_bytes())
    .bind(task_id.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use crate::store::task_list::Value::Int;

    #[tokio::test]
    async fn claims_seek_indexes_and_never_scan_the_tasks() {
        // Binds: now, two skipped users, per user, the same two users, limit.
        let values = vec![Int(0), Int(7), Int(8), Int(64), Int(7), Int(8), Int(256)];
        let plan = super::super::query_plan(&super::claim_statement(2), values).await;
        assert!(
            plan.contains("tasks_waiting"),
            "waiting tasks by index:\n{plan}"
        );
        // Scanning the index of running tasks is fine: it holds only the tasks being fanned out.
        for step in plan.lines().filter(|step| !step.contains("tasks_leased")) {
            let scanned = step
                .strip_prefix("SCAN ")
                .map(|rest| rest.split(' ').next());
            assert!(
                !matches!(scanned, Some(Some("t" | "tasks"))),
                "a claim scans the tasks ({step}):\n{plan}"
            );
        }
    }
}
