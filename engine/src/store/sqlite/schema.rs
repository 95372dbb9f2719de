//! Migrations, settings and the write-ahead log.

use async_trait::async_trait;
use tracing::instrument;

use super::SqliteStore;
use crate::store::{SchemaStore, StoreResult};

#[async_trait]
impl SchemaStore for SqliteStore {
    #[instrument(skip(self), err)]
    async fn migrate(&self) -> StoreResult<()> {
        migrator().run(&self.writer).await?;
        Ok(())
    }

    #[instrument(skip(self), err)]
    async fn schema_version(&self) -> StoreResult<Option<i64>> {
        let query = sqlx::query_as(
            "SELECT name FROM sqlite_master
             WHERE type = 'table' AND name = '_sqlx_migrations'",
        );
        let exists: Option<(String,)> = query.fetch_optional(&self.reader).await?;
        if exists.is_none() {
            return Ok(None);
        }
        let query = sqlx::query_as(
            "SELECT MAX(version) FROM _sqlx_migrations
             WHERE success = 1",
        );
        let (version,): (Option<i64>,) = query.fetch_one(&self.reader).await?;
        Ok(version)
    }

    #[instrument(skip(self), err)]
    async fn is_fully_migrated(&self) -> StoreResult<bool> {
        let latest = migrator().iter().map(|m| m.version).max();
        Ok(self.schema_version().await? >= latest)
    }

    #[instrument(skip(self, value), err)]
    async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String> {
        // Read first: once set, a setting never needs the write lock again.
        let read = sqlx::query_as("SELECT value FROM settings WHERE name = ?1");
        let stored: Option<(String,)> = read.bind(name).fetch_optional(&self.reader).await?;
        if let Some((stored,)) = stored {
            return Ok(stored);
        }
        // A setting is written once, by whoever comes first: an INSERT that may do nothing.
        let (name, value) = (name.to_owned(), value.to_owned());
        self.transaction(move |tx| {
            Box::pin(async move {
                let insert = sqlx::query(
                    "INSERT INTO settings (name, value) VALUES (?1, ?2)
                     ON CONFLICT (name) DO NOTHING",
                );
                insert.bind(&name).bind(&value).execute(&mut *tx).await?;
                let read = sqlx::query_as(
                    "SELECT value FROM settings
                     WHERE name = ?1",
                );
                let (stored,): (String,) = read.bind(&name).fetch_one(&mut *tx).await?;
                Ok(stored)
            })
        })
        .await
    }

    #[instrument(skip(self), err)]
    async fn checkpoint(&self) -> StoreResult<()> {
        let query = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)");
        query.execute(&self.writer).await?;
        Ok(())
    }
}

/// The migrations of this build. Migrations applied by a newer build are tolerated, so that an
/// instance not yet upgraded keeps running during a rolling upgrade (migrations only add).
fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("../migrations/sqlite");
    migrator.set_ignore_missing(true);
    migrator
}
