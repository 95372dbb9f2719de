//! The audit log.

use sqlx::{Sqlite, SqlitePool};

use crate::store::rows;
use crate::store::{AuditEntry, AuditFilter, StoreError};
use crate::time::to_millis;

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
    let found = sqlx::query(
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
    found.iter().map(rows::audit_entry).collect()
}
