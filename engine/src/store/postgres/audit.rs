//! The audit log on PostgreSQL.

use async_trait::async_trait;
use sqlx::PgConnection;
use tracing::instrument;

use super::PgStore;
use crate::store::{binds, rows};
use crate::store::{AuditEntry, AuditFilter, AuditStore, StoreResult};

/// Appends `entry` to the audit log (alone, or inside a batch write).
pub(super) async fn append(tx: &mut PgConnection, entry: &AuditEntry) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor, action, subject, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    );
    binds::audit_entry(query, entry).execute(tx).await?;
    Ok(())
}

#[async_trait]
impl AuditStore for PgStore {
    #[instrument(skip(self), err)]
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let query = sqlx::query(
            "SELECT id, at, actor_id, actor, action, subject, detail FROM audit_log
             WHERE ($1::text IS NULL OR actor = $1)
               AND ($2::text IS NULL OR starts_with(action, $2))
               AND ($3::bigint IS NULL OR id < $3)
             ORDER BY id DESC LIMIT $4",
        );
        let query = binds::audit_filter(query, filter);
        let found = query.fetch_all(&self.pool).await?;
        found.iter().map(rows::audit_entry).collect()
    }

    #[instrument(skip_all, fields(action = %entry.action), err)]
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut connection = self.pool.acquire().await?;
        append(&mut connection, entry).await
    }
}
