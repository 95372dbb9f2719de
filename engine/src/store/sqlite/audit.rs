//! The audit log.

use sqlx::{Row, Sqlite, SqlitePool};

use crate::store::{AuditEntry, AuditFilter, StoreError};
use crate::time::{from_millis, to_millis};
use crate::users::UserId;

pub(super) async fn append<'e, E>(executor: E, entry: &AuditEntry) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    sqlx::query("INSERT INTO audit_log (at, actor_id, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(to_millis(entry.at))
        .bind(entry.actor_id.map(|id| id.0))
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.subject)
        .bind(entry.detail.to_string())
        .execute(executor)
        .await?;
    Ok(())
}

pub(super) async fn list(
    pool: &SqlitePool,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, at, actor_id, actor, action, subject, detail FROM audit_log
         WHERE (? IS NULL OR actor = ?)
           AND (? IS NULL OR substr(action, 1, length(?)) = ?)
           AND (? IS NULL OR id < ?)
         ORDER BY id DESC LIMIT ?",
    )
    .bind(&filter.actor)
    .bind(&filter.actor)
    .bind(&filter.action_prefix)
    .bind(&filter.action_prefix)
    .bind(&filter.action_prefix)
    .bind(filter.before_id)
    .bind(filter.before_id)
    .bind(i64::from(filter.limit.clamp(1, 1000)))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let detail: String = row.try_get("detail")?;
            Ok(AuditEntry {
                id: row.try_get("id")?,
                at: from_millis(row.try_get("at")?),
                actor_id: row.try_get::<Option<i64>, _>("actor_id")?.map(UserId),
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                subject: row.try_get("subject")?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
            })
        })
        .collect()
}
