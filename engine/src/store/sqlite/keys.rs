//! API keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::instrument;

use super::SqliteStore;
use crate::store::binds;
use crate::store::rows::{self, KEY_COLUMNS};
use crate::store::{ApiKeyInfo, KeyStore, NewApiKey, StoreError, StoreResult, UserStore};
use crate::time::to_millis;
use crate::users::{User, UserId};

#[async_trait]
impl KeyStore for SqliteStore {
    // A key that exists already is the caller's mistake (409), not the service failing.
    #[instrument(skip_all, fields(user = key.user_id.0, public_id = %key.public_id), err(level = "warn"))]
    async fn insert_api_key(
        &self,
        key: &NewApiKey,
        live_cap: u32,
    ) -> StoreResult<Option<ApiKeyInfo>> {
        // One statement on the one writer connection: the count cannot change under it.
        let sql = format!(
            "INSERT INTO api_keys
                (user_id, public_id, label, key_hash, key_sealed, created_at, scope)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
             WHERE (SELECT COUNT(*) FROM api_keys WHERE user_id = ?1 AND revoked_at IS NULL) < ?8
             RETURNING {}",
            KEY_COLUMNS.replace("k.", "")
        );
        let query = binds::new_key(sqlx::query(&sql), key).bind(i64::from(live_cap));
        let inserted = query.fetch_optional(&self.writer).await;
        let inserted = inserted.map_err(rows::conflict("this API key"))?;
        inserted.as_ref().map(rows::api_key).transpose()
    }

    #[instrument(level = "debug", skip_all, err)]
    async fn api_key_by_hash(&self, hash: &[u8]) -> StoreResult<Option<(ApiKeyInfo, User)>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k
             WHERE k.key_hash = ?1"
        );
        let query = sqlx::query(&sql).bind(hash);
        let row = query.fetch_optional(&self.reader).await?;
        let Some(key) = row.as_ref().map(rows::api_key).transpose()? else {
            return Ok(None);
        };
        let owner = self.user_by_id(key.user_id).await?;
        rows::key_with_owner(key, owner).map(Some)
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn sealed_keys_of_user(&self, user: UserId) -> StoreResult<Vec<(ApiKeyInfo, Vec<u8>)>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS}, k.key_sealed FROM api_keys k WHERE k.user_id = ?1
             AND k.revoked_at IS NULL ORDER BY k.id"
        );
        let query = sqlx::query(&sql).bind(user.0);
        let found = query.fetch_all(&self.reader).await?;
        found.iter().map(rows::sealed_key).collect()
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn sealed_key(&self, key_id: i64) -> StoreResult<Option<Vec<u8>>> {
        let query = sqlx::query_as(
            "SELECT key_sealed FROM api_keys
             WHERE id = ?1",
        );
        let row: Option<(Vec<u8>,)> = query.bind(key_id).fetch_optional(&self.reader).await?;
        Ok(row.map(|(sealed,)| sealed))
    }

    #[instrument(skip(self), err)]
    async fn list_api_keys(&self, user: UserId) -> StoreResult<Vec<ApiKeyInfo>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k
             WHERE k.user_id = ?1 ORDER BY k.id DESC"
        );
        let query = sqlx::query(&sql).bind(user.0);
        let found = query.fetch_all(&self.reader).await?;
        found.iter().map(rows::api_key).collect()
    }

    #[instrument(skip(self), err)]
    async fn revoke_api_key(&self, user: UserId, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE api_keys SET revoked_at = ?1
             WHERE user_id = ?2 AND public_id = ?3 AND revoked_at IS NULL",
        );
        let query = query.bind(to_millis(at)).bind(user.0).bind(id);
        Ok(query.execute(&self.writer).await?.rows_affected() > 0)
    }

    // Last-used times are written again a second later when this fails (key_uses.rs).
    #[instrument(level = "debug", skip(self), err(level = "debug"))]
    async fn touch_api_key(&self, key_id: i64, at: DateTime<Utc>) -> StoreResult<()> {
        // One write per minute and key at most: last-used is for people, not for accounting.
        let query = sqlx::query(
            "UPDATE api_keys SET last_used_at = ?1
             WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1 - 60000)",
        );
        // Never queued behind the submissions: when the writer is taken, the use is written
        // at the next try (see `key_uses`).
        let Some(mut writer) = self.writer.try_acquire() else {
            return Err(StoreError::Unavailable(
                "the writer connection is taken".into(),
            ));
        };
        query
            .bind(to_millis(at))
            .bind(key_id)
            .execute(&mut *writer)
            .await?;
        Ok(())
    }
}
