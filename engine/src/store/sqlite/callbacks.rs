//! The queue of callbacks due for finished tasks.

use chrono::{DateTime, Utc};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::ids::TaskId;
use crate::store::rows::{self, TASK_COLUMNS};
use crate::store::{CallbackOutcome, DueCallback, StoreError};
use crate::time::to_millis;

pub(super) async fn due(
    tx: &mut Transaction<'static, Sqlite>,
    now: DateTime<Utc>,
    retry_at: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<DueCallback>, StoreError> {
    let sql = format!(
        "SELECT {TASK_COLUMNS}, b.api_key_id, t.callback_attempts FROM tasks t JOIN batches b ON b.id = t.batch_id
         WHERE t.callback_state = 'pending' AND t.callback_next_at <= ? ORDER BY t.callback_next_at LIMIT ?"
    );
    let rows = sqlx::query(&sql)
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .fetch_all(&mut **tx)
        .await?;
    let mut due = Vec::with_capacity(rows.len());
    for row in &rows {
        let task = rows::task(row)?;
        // Taken for delivery: nobody else picks it up before `retry_at`, even if this instance dies.
        sqlx::query("UPDATE tasks SET callback_next_at = ?, callback_attempts = callback_attempts + 1 WHERE id = ?")
            .bind(to_millis(retry_at))
            .bind(task.id.as_str())
            .execute(&mut **tx)
            .await?;
        due.push(DueCallback {
            api_key_id: row.try_get("api_key_id")?,
            attempts: row.try_get::<i64, _>("callback_attempts")? as u32 + 1,
            task,
        });
    }
    Ok(due)
}

pub(super) async fn finish(
    pool: &SqlitePool,
    task: &TaskId,
    outcome: CallbackOutcome,
) -> Result<(), StoreError> {
    let (state, next_at) = match outcome {
        CallbackOutcome::Delivered => ("delivered", None),
        CallbackOutcome::RetryAt(at) => ("pending", Some(to_millis(at))),
        CallbackOutcome::GaveUp => ("failed", None),
    };
    sqlx::query("UPDATE tasks SET callback_state = ?, callback_next_at = ? WHERE id = ?")
        .bind(state)
        .bind(next_at)
        .bind(task.as_str())
        .execute(pool)
        .await?;
    Ok(())
}
