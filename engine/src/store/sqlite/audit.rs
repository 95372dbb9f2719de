//! The audit log.

use async_trait::async_trait;
use sqlx::SqliteConnection;
use tracing::instrument;

use super::SqliteStore;
use crate::store::{binds, rows};
use crate::store::{AuditEntry, AuditFilter, AuditStore, StoreResult};

/// Appends `entry` to the audit log (alone, or inside a batch write).
pub(super) async fn append(tx: &mut SqliteConnection, entry: &AuditEntry) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor, action, subject, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    );
    binds::audit_entry(query, entry).execute(tx).await?;
    Ok(())
}

#[async_trait]
impl AuditStore for SqliteStore {
    #[instrument(skip(self), err)]
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let query = sqlx::query(
            "SELECT id, at, actor_id, actor, action, subject, detail FROM audit_log
             WHERE (?1 IS NULL OR actor = ?1)
               AND (?2 IS NULL OR substr(action, 1, length(?2)) = ?2)
               AND (?3 IS NULL OR id < ?3)
             ORDER BY id DESC LIMIT ?4",
        );
        let query = binds::audit_filter(query, filter);
        let found = query.fetch_all(&self.reader).await?;
        found.iter().map(rows::audit_entry).collect()
    }

    #[instrument(skip_all, fields(action = %entry.action), err)]
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut connection = self.writer.acquire().await?;
        append(&mut connection, entry).await
    }
}
