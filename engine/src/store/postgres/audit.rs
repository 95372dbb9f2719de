//! The audit log on PostgreSQL.

use sqlx::{PgPool, Postgres};

use crate::store::rows;
use crate::store::{AuditEntry, AuditFilter, StoreError};
use crate::time::to_millis;

pub(super) async fn append<'e, E>(executor: E, entry: &AuditEntry) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor, action, subject, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
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
    pool: &PgPool,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>, StoreError> {
    sqlx::query(
        "SELECT id, at, actor_id, actor, action, subject, detail FROM audit_log
         WHERE ($1::text IS NULL OR actor = $1)
           AND ($2::text IS NULL OR starts_with(action, $2))
           AND ($3::bigint IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4",
    )
    .bind(&filter.actor)
    .bind(&filter.action_prefix)
    .bind(filter.before_id)
    .bind(i64::from(filter.limit.clamp(1, 1000)))
    .fetch_all(pool)
    .await?
    .iter()
    .map(rows::audit_entry)
    .collect()
}
