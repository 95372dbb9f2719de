//! The queue of callbacks due for finished tasks.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::instrument;

use super::SqliteStore;
use crate::ids::TaskId;
use crate::store::rows::{self, TASK_COLUMNS};
use crate::store::{CallbackOutcome, CallbackQueue, DueCallback, StoreResult};
use crate::time::to_millis;

#[async_trait]
impl CallbackQueue for SqliteStore {
    #[instrument(skip(self), err)]
    async fn finish_callback(&self, task: &TaskId, outcome: CallbackOutcome) -> StoreResult<()> {
        let (state, next_at) = rows::callback_state(outcome);
        let query = sqlx::query(
            "UPDATE tasks SET callback_state = ?1, callback_next_at = ?2
             WHERE id = ?3",
        );
        let query = query.bind(state).bind(next_at).bind(task.as_str());
        query.execute(&self.writer).await?;
        Ok(())
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn due_callbacks(
        &self,
        now: DateTime<Utc>,
        retry_at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<DueCallback>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS}, b.api_key_id, t.callback_attempts
             FROM tasks t JOIN batches b ON b.id = t.batch_id
             WHERE t.callback_state = 'pending' AND t.callback_next_at <= ?1
             ORDER BY t.callback_next_at LIMIT ?2"
        );
        self.transaction(move |tx| {
            Box::pin(async move {
                let query = sqlx::query(&sql).bind(to_millis(now));
                let found = query.bind(i64::from(limit)).fetch_all(&mut *tx).await?;
                let due = found.iter().map(rows::due_callback);
                let due: Vec<DueCallback> = due.collect::<StoreResult<_>>()?;
                // Taken for delivery: nobody else picks them up before `retry_at`, even if this
                // instance dies.
                for callback in &due {
                    let query = sqlx::query(
                        "UPDATE tasks SET callback_next_at = ?1,
                            callback_attempts = callback_attempts + 1
                         WHERE id = ?2",
                    );
                    let query = query
                        .bind(to_millis(retry_at))
                        .bind(callback.task.id.as_str());
                    query.execute(&mut *tx).await?;
                }
                Ok(due)
            })
        })
        .await
    }
}
