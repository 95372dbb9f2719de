//! Writing submissions with their quota use, in one transaction.

use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};

use crate::quota::QuotaUsage;
use crate::store::rows::{self, TASK_COLUMNS};
use crate::store::{BatchWrite, NewBatch, StoreError};
use crate::target::TargetKind;
use crate::time::to_millis;
use crate::users::UserId;

/// Task rows per `INSERT` (10 values each, well under SQLite's 32 766 placeholders).
const TASK_ROWS_PER_INSERT: usize = 250;

pub(super) async fn write(
    tx: &mut Transaction<'static, Sqlite>,
    batch: &NewBatch,
) -> Result<BatchWrite, StoreError> {
    if let Some(key) = &batch.idempotency_key {
        let earlier: Option<(String,)> =
            sqlx::query_as("SELECT id FROM batches WHERE user_id = ? AND idempotency_key = ?")
                .bind(batch.user_id.0)
                .bind(key)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some((id,)) = earlier {
            let batch_id = crate::ids::BatchId::parse(&id)
                .ok_or_else(|| StoreError::Corrupt(format!("batch id {id:?}")))?;
            return Ok(BatchWrite::Replayed { batch_id });
        }
    }
    if let Some(client_task_id) = &batch.client_task_id {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.user_id = ? AND t.client_task_id = ?"
        );
        let earlier = sqlx::query(&sql)
            .bind(batch.user_id.0)
            .bind(client_task_id)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(row) = earlier {
            return Ok(BatchWrite::ClientTaskExists {
                task: Box::new(rows::task(&row)?),
            });
        }
    }

    let mut repeats = Vec::with_capacity(batch.tasks.len());
    for task in &batch.tasks {
        let running: Option<(i64,)> = if task.kind == TargetKind::Regex {
            sqlx::query_as(
                "SELECT 1 FROM tasks WHERE user_id = ? AND target = ? AND kind = 'regex'
                 AND status IN ('created', 'running') LIMIT 1",
            )
            .bind(batch.user_id.0)
            .bind(&task.target)
            .fetch_optional(&mut **tx)
            .await?
        } else {
            None
        };
        repeats.push(running.is_some());
    }
    let used_before = quota_used(&mut **tx, batch.user_id, &batch.day).await?;
    let (verdicts, used_after) = crate::store::plan::verdicts(batch, &repeats, used_before);
    if verdicts.iter().all(Option::is_some) {
        return Ok(BatchWrite::Written {
            verdicts,
            used_before,
            used_after: used_before,
        });
    }

    let created_at = to_millis(batch.created_at);
    sqlx::query(
        "INSERT INTO batches (id, user_id, api_key_id, source, idempotency_key, callback_url, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(batch.id.as_str())
    .bind(batch.user_id.0)
    .bind(batch.api_key_id)
    .bind(batch.source)
    .bind(&batch.idempotency_key)
    .bind(&batch.callback_url)
    .bind(created_at)
    .execute(&mut **tx)
    .await?;
    // A few multi-row statements rather than one round trip to the database thread per task.
    let accepted = crate::store::plan::accepted(batch, &verdicts);
    for chunk in accepted.chunks(TASK_ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO tasks (id, batch_id, user_id, domain_id, kind, target, client_task_id, status,
                                created_at, callback_url) ",
        );
        insert.push_values(chunk, |mut row, task| {
            row.push_bind(task.id.as_str())
                .push_bind(batch.id.as_str())
                .push_bind(batch.user_id.0)
                .push_bind(task.domain_id)
                .push_bind(task.kind.as_str())
                .push_bind(task.target.as_str())
                .push_bind(batch.client_task_id.as_deref())
                .push_bind("created")
                .push_bind(created_at)
                .push_bind(batch.callback_url.as_deref());
        });
        insert.build().execute(&mut **tx).await?;
    }
    for kind in TargetKind::ALL {
        let added = used_after.get(kind) - used_before.get(kind);
        if added == 0 {
            continue;
        }
        sqlx::query(
            "INSERT INTO quota_usage (user_id, day, kind, used) VALUES (?, ?, ?, ?)
             ON CONFLICT (user_id, day, kind) DO UPDATE SET used = used + excluded.used",
        )
        .bind(batch.user_id.0)
        .bind(&batch.day)
        .bind(kind.as_str())
        .bind(i64::from(added))
        .execute(&mut **tx)
        .await?;
    }
    super::audit::append(&mut **tx, &batch.audit).await?;
    Ok(BatchWrite::Written {
        verdicts,
        used_before,
        used_after,
    })
}

pub(super) async fn quota_used<'e, E>(
    executor: E,
    user: UserId,
    day: &str,
) -> Result<QuotaUsage, StoreError>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, used FROM quota_usage WHERE user_id = ? AND day = ?")
            .bind(user.0)
            .bind(day)
            .fetch_all(executor)
            .await?;
    Ok(rows::usage(rows))
}

pub(super) async fn quota_history(
    pool: &SqlitePool,
    user: UserId,
    from_day: &str,
    to_day: &str,
) -> Result<Vec<(String, QuotaUsage)>, StoreError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT day, kind, used FROM quota_usage WHERE user_id = ? AND day >= ? AND day <= ? ORDER BY day",
    )
    .bind(user.0)
    .bind(from_day)
    .bind(to_day)
    .fetch_all(pool)
    .await?;
    Ok(rows::usage_by_day(rows))
}
