//! Writing submissions with their quota use, in one transaction, on PostgreSQL.
//!
//! Concurrent submissions of one user (from any instance) serialize on that user's row
//! (`SELECT … FOR UPDATE`), so the quota check and the insert see each other exactly.

use sqlx::{PgPool, Postgres, Transaction};

use super::signals::WORK_CHANNEL;
use crate::quota::QuotaUsage;
use crate::store::rows::{self, TASK_COLUMNS};
use crate::store::{BatchWrite, NewBatch, StoreError};
use crate::target::TargetKind;
use crate::time::to_millis;
use crate::users::UserId;

pub(super) async fn write(
    tx: &mut Transaction<'static, Postgres>,
    batch: &NewBatch,
) -> Result<BatchWrite, StoreError> {
    let locked: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1 FOR UPDATE")
        .bind(batch.user_id.0)
        .fetch_optional(&mut **tx)
        .await?;
    if locked.is_none() {
        return Err(StoreError::NotFound(format!("user {}", batch.user_id.0)));
    }
    if let Some(key) = &batch.idempotency_key {
        let earlier: Option<(String,)> =
            sqlx::query_as("SELECT id FROM batches WHERE user_id = $1 AND idempotency_key = $2")
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
            "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.user_id = $1 AND t.client_task_id = $2"
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

    let regexes: Vec<String> = batch
        .tasks
        .iter()
        .filter(|task| task.kind == TargetKind::Regex)
        .map(|task| task.target.clone())
        .collect();
    let running: Vec<(String,)> = if regexes.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT DISTINCT target FROM tasks WHERE user_id = $1 AND kind = 'regex'
             AND status IN ('created', 'running') AND target = ANY($2)",
        )
        .bind(batch.user_id.0)
        .bind(&regexes)
        .fetch_all(&mut **tx)
        .await?
    };
    let repeats: Vec<bool> = batch
        .tasks
        .iter()
        .map(|task| task.kind == TargetKind::Regex && running.iter().any(|(t,)| *t == task.target))
        .collect();
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
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
    let accepted = crate::store::plan::accepted(batch, &verdicts);
    // One statement for the whole batch: arrays unnested into rows.
    let ids: Vec<&str> = accepted.iter().map(|t| t.id.as_str()).collect();
    let domains: Vec<i64> = accepted.iter().map(|t| t.domain_id).collect();
    let kinds: Vec<&str> = accepted.iter().map(|t| t.kind.as_str()).collect();
    let targets: Vec<&str> = accepted.iter().map(|t| t.target.as_str()).collect();
    sqlx::query(
        "INSERT INTO tasks (id, batch_id, user_id, domain_id, kind, target, client_task_id, status,
                            created_at, callback_url)
         SELECT id, $1, $2, domain_id, kind, target, $3, 'created', $4, $5
         FROM UNNEST($6::text[], $7::bigint[], $8::text[], $9::text[])
              WITH ORDINALITY AS n (id, domain_id, kind, target, ord)
         ORDER BY ord",
    )
    .bind(batch.id.as_str())
    .bind(batch.user_id.0)
    .bind(&batch.client_task_id)
    .bind(created_at)
    .bind(&batch.callback_url)
    .bind(&ids)
    .bind(&domains)
    .bind(&kinds)
    .bind(&targets)
    .execute(&mut **tx)
    .await?;
    for kind in TargetKind::ALL {
        let added = used_after.get(kind) - used_before.get(kind);
        if added == 0 {
            continue;
        }
        sqlx::query(
            "INSERT INTO quota_usage (user_id, day, kind, used) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, day, kind) DO UPDATE SET used = quota_usage.used + excluded.used",
        )
        .bind(batch.user_id.0)
        .bind(&batch.day)
        .bind(kind.as_str())
        .bind(i64::from(added))
        .execute(&mut **tx)
        .await?;
    }
    super::audit::append(&mut **tx, &batch.audit).await?;
    // Delivered at commit: idle dispatchers of every instance look for work at once.
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(WORK_CHANNEL)
        .execute(&mut **tx)
        .await?;
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
    E: sqlx::Executor<'e, Database = Postgres>,
{
    let found: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, used FROM quota_usage WHERE user_id = $1 AND day = $2")
            .bind(user.0)
            .bind(day)
            .fetch_all(executor)
            .await?;
    Ok(rows::usage(found))
}

pub(super) async fn quota_history(
    pool: &PgPool,
    user: UserId,
    from_day: &str,
    to_day: &str,
) -> Result<Vec<(String, QuotaUsage)>, StoreError> {
    let found: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT day, kind, used FROM quota_usage WHERE user_id = $1 AND day >= $2 AND day <= $3
         ORDER BY day",
    )
    .bind(user.0)
    .bind(from_day)
    .bind(to_day)
    .fetch_all(pool)
    .await?;
    Ok(rows::usage_by_day(found))
}
