//! The queue of callbacks due for finished tasks, on PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::ids::TaskId;
use crate::store::rows::{self, TASK_COLUMNS};
use crate::store::{CallbackOutcome, DueCallback, StoreError};
use crate::time::to_millis;

pub(super) async fn due(
    tx: &mut Transaction<'static, Postgres>,
    now: DateTime<Utc>,
    retry_at: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<DueCallback>, StoreError> {
    // Taken for delivery until `retry_at`: no other instance picks them up before, even if this
    // one dies; rows another instance is taking right now are skipped, not waited for.
    let sql = format!(
        "SELECT {TASK_COLUMNS}, b.api_key_id, t.callback_attempts
         FROM tasks t JOIN batches b ON b.id = t.batch_id
         WHERE t.callback_state = 'pending' AND t.callback_next_at <= $1
         ORDER BY t.callback_next_at LIMIT $2
         FOR UPDATE OF t SKIP LOCKED"
    );
    let found = sqlx::query(&sql)
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .fetch_all(&mut **tx)
        .await?;
    let ids: Vec<String> = found
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
    sqlx::query(
        "UPDATE tasks SET callback_next_at = $1, callback_attempts = callback_attempts + 1
         WHERE id = ANY($2)",
    )
    .bind(to_millis(retry_at))
    .bind(&ids)
    .execute(&mut **tx)
    .await?;
    found
        .iter()
        .map(|row| {
            Ok(DueCallback {
                api_key_id: row.try_get("api_key_id")?,
                attempts: row.try_get::<i64, _>("callback_attempts")?.max(0) as u32 + 1,
                task: rows::task(row)?,
            })
        })
        .collect()
}

pub(super) async fn finish(
    pool: &PgPool,
    task: &TaskId,
    outcome: CallbackOutcome,
) -> Result<(), StoreError> {
    let (state, next_at) = match outcome {
        CallbackOutcome::Delivered => ("delivered", None),
        CallbackOutcome::RetryAt(at) => ("pending", Some(to_millis(at))),
        CallbackOutcome::GaveUp => ("failed", None),
    };
    sqlx::query("UPDATE tasks SET callback_state = $1, callback_next_at = $2 WHERE id = $3")
        .bind(state)
        .bind(next_at)
        .bind(task.as_str())
        .execute(pool)
        .await?;
    Ok(())
}
