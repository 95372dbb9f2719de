//! Claiming tasks with leases, and writing fan-out progress.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use tracing::instrument;

use super::SqliteStore;
use crate::fleet::NodeTarget;
use crate::ids::TaskId;
use crate::store::claim::{self, WorkTx};
use crate::store::rows::{self, TASK_COLUMNS, WAITING_USERS};
use crate::store::{binds, ClaimRequest, ClaimedTask, StoreResult, TaskProgress, WorkQueue};
use crate::tasks::NodeFailure;
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

#[async_trait]
impl WorkQueue for SqliteStore {
    #[instrument(level = "debug", skip_all, fields(owner = %request.owner), err)]
    async fn claim_tasks(&self, request: &ClaimRequest) -> StoreResult<Vec<ClaimedTask>> {
        let request = request.clone();
        let frozen = std::sync::Arc::clone(&self.frozen);
        let (claimed, sets) = self
            .transaction(move |tx| {
                Box::pin(async move {
                    let sql = claim_statement(request.skip_users.len());
                    let mut query = sqlx::query(&sql).bind(to_millis(request.now));
                    for user in &request.skip_users {
                        query = query.bind(user.0);
                    }
                    query = query.bind(i64::from(request.per_user));
                    for user in &request.skip_users {
                        query = query.bind(user.0);
                    }
                    let found = query
                        .bind(i64::from(request.limit))
                        .fetch_all(&mut *tx)
                        .await?;
                    let picked = found.iter().map(rows::picked).collect::<StoreResult<_>>()?;
                    claim::claim(tx, picked, &request, &frozen).await
                })
            })
            .await?;
        self.frozen.remember(sets);
        Ok(claimed)
    }

    #[instrument(level = "debug", skip_all, fields(tasks = progress.len()), err)]
    async fn record_progress(
        &self,
        owner: &str,
        progress: &[TaskProgress],
    ) -> StoreResult<Vec<TaskId>> {
        let (owner, progress) = (owner.to_owned(), progress.to_vec());
        self.transaction(move |tx| {
            Box::pin(async move { claim::record_progress(tx, &owner, &progress).await })
        })
        .await
    }

    #[instrument(level = "debug", skip(self, tasks), fields(tasks = tasks.len()), err)]
    async fn renew_leases(
        &self,
        owner: &str,
        tasks: &[TaskId],
        until: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (owner, tasks) = (owner.to_owned(), tasks.to_vec());
        self.transaction(move |tx| {
            Box::pin(async move {
                for chunk in tasks.chunks(500) {
                    let ids = vec!["?"; chunk.len()].join(", ");
                    let sql = format!(
                        "UPDATE tasks SET lease_expires_at = ?
                         WHERE lease_owner = ? AND id IN ({ids})"
                    );
                    let mut query = sqlx::query(&sql).bind(to_millis(until)).bind(&owner);
                    for id in chunk {
                        query = query.bind(id.as_str());
                    }
                    query.execute(&mut *tx).await?;
                }
                Ok(())
            })
        })
        .await
    }

    #[instrument(skip(self), err)]
    async fn release_leases(&self, owner: &str) -> StoreResult<()> {
        let query = sqlx::query(
            "UPDATE tasks SET lease_owner = NULL, lease_expires_at = NULL
             WHERE lease_owner = ?1",
        );
        query.bind(owner).execute(&self.writer).await?;
        Ok(())
    }

    #[instrument(skip(self), err)]
    async fn requeue_failed_nodes(&self, task: &TaskId) -> StoreResult<bool> {
        let task_id = task.clone();
        self.transaction(move |tx| {
            Box::pin(async move {
                let sql = format!(
                    "SELECT {TASK_COLUMNS} FROM tasks t
                     WHERE t.id = ?1"
                );
                let row = sqlx::query(&sql)
                    .bind(task_id.as_str())
                    .fetch_optional(&mut *tx);
                let Some(row) = row.await? else {
                    return Ok(false);
                };
                let failures = tx.failures_of(&task_id).await?;
                let Some(requeue) = crate::store::requeue::requeue(&rows::task(&row)?, &failures)
                else {
                    return Ok(false);
                };
                for node_index in &requeue.retried {
                    let query = sqlx::query(
                        "DELETE FROM task_failures
                         WHERE task_id = ?1 AND node_index = ?2",
                    );
                    let query = query.bind(task_id.as_str()).bind(i64::from(*node_index));
                    query.execute(&mut *tx).await?;
                }
                let query = sqlx::query(
                    "UPDATE tasks SET status = 'running', failed = ?1, confirmed = ?2,
                        finished_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
                        callback_state = NULL, callback_next_at = NULL, callback_attempts = 0
                     WHERE id = ?3",
                );
                let query = query
                    .bind(requeue.failed)
                    .bind(requeue.confirmed.as_bytes());
                query.bind(task_id.as_str()).execute(&mut *tx).await?;
                Ok(true)
            })
        })
        .await
    }
}

#[async_trait]
impl WorkTx for SqliteConnection {
    async fn fleet_version(&mut self) -> StoreResult<i64> {
        let (version,): (i64,) = sqlx::query_as("SELECT version FROM fleet_version")
            .fetch_one(self)
            .await?;
        Ok(version)
    }

    async fn domain_nodes(
        &mut self,
        domain_id: i64,
        groups: &[String],
    ) -> StoreResult<Vec<NodeTarget>> {
        let query = sqlx::query(
            "SELECT n.id, n.ip, n.port, g.options, g.name AS group_name FROM edge_nodes n
             JOIN domain_groups dg ON dg.group_id = n.group_id
             JOIN edge_groups g ON g.id = n.group_id
             WHERE dg.domain_id = ?1 AND n.enabled = 1
             ORDER BY n.id",
        );
        rows::node_targets(&query.bind(domain_id).fetch_all(self).await?, groups)
    }

    async fn freeze_node_set(
        &mut self,
        digest: String,
        json: String,
        at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let query = sqlx::query_as(
            "INSERT INTO node_sets (digest, nodes, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (digest) DO UPDATE SET digest = excluded.digest RETURNING id",
        );
        let query = query.bind(digest).bind(json).bind(to_millis(at));
        let (id,): (i64,) = query.fetch_one(self).await?;
        Ok(id)
    }

    async fn mark_claimed(&mut self, task: &ClaimedTask, claim: &ClaimRequest) -> StoreResult<()> {
        let query = sqlx::query(
            "UPDATE tasks SET status = 'running', node_set_id = ?1, total = ?2, confirmed = ?3,
                started_at = COALESCE(started_at, ?4), deadline_at = ?5, lease_owner = ?6,
                lease_expires_at = ?7
             WHERE id = ?8",
        );
        binds::claimed(query, task, claim).execute(self).await?;
        Ok(())
    }

    async fn failures_of(&mut self, task: &TaskId) -> StoreResult<Vec<NodeFailure>> {
        let query = sqlx::query(
            "SELECT node_index, reason, attempts, detail FROM task_failures
             WHERE task_id = ?1 ORDER BY node_index",
        );
        let found = query.bind(task.as_str()).fetch_all(self).await?;
        found.iter().map(rows::failure).collect()
    }

    async fn write_progress(&mut self, owner: &str, update: &TaskProgress) -> StoreResult<bool> {
        let query = match update.finished {
            Some(_) => sqlx::query(
                "UPDATE tasks SET success = ?1, failed = ?2, confirmed = NULL, status = ?3,
                    finished_at = ?4, lease_owner = NULL, lease_expires_at = NULL,
                    unverified = ?7, prefetched = ?8, unprefetched = ?9,
                    callback_state = CASE WHEN callback_state IS NOT NULL THEN 'pending' END,
                    callback_next_at = CASE WHEN callback_state IS NOT NULL THEN ?4 END
                 WHERE id = ?5 AND lease_owner = ?6",
            ),
            None => sqlx::query(
                "UPDATE tasks SET success = ?1, failed = ?2, confirmed = ?3,
                    unverified = ?6, prefetched = ?7, unprefetched = ?8
                 WHERE id = ?4 AND lease_owner = ?5",
            ),
        };
        let query = binds::progress(query, update, owner);
        Ok(query.execute(self).await?.rows_affected() > 0)
    }

    async fn write_failure(&mut self, task: &TaskId, failure: &NodeFailure) -> StoreResult<()> {
        let query = sqlx::query(
            "INSERT OR REPLACE INTO task_failures (task_id, node_index, reason, attempts, detail)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        );
        binds::failure(query, task.as_str(), failure)
            .execute(self)
            .await?;
        Ok(())
    }
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
