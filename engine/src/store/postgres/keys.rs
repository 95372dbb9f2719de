//! API keys on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::instrument;

use super::PgStore;
use crate::store::binds;
use crate::store::rows::{self, KEY_COLUMNS};
use crate::store::{ApiKeyInfo, KeyStore, NewApiKey, StoreResult, UserStore};
use crate::time::to_millis;
use crate::users::{User, UserId};

#[async_trait]
impl KeyStore for PgStore {
    // A key that exists already is the caller's mistake (409), not the service failing.
    #[instrument(skip_all, fields(user = key.user_id.0, public_id = %key.public_id), err(level = "warn"))]
    async fn insert_api_key(
        &self,
        key: &NewApiKey,
        live_cap: u32,
    ) -> StoreResult<Option<ApiKeyInfo>> {
        let key = key.clone();
        self.transaction(move |tx| {
            Box::pin(async move {
                // The owner's row is locked first, so that concurrent creations count in turn
                // (the count below is a new statement: it sees the keys committed meanwhile).
                let lock = sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE");
                lock.bind(key.user_id.0).execute(&mut *tx).await?;
                let sql = format!(
                    "INSERT INTO api_keys AS k
                        (user_id, public_id, label, key_hash, key_sealed, created_at, scope)
                     SELECT $1, $2, $3, $4, $5, $6, $7
                     WHERE (SELECT COUNT(*) FROM api_keys
                            WHERE user_id = $1 AND revoked_at IS NULL) < $8
                     RETURNING {KEY_COLUMNS}"
                );
                let query = binds::new_key(sqlx::query(&sql), &key).bind(i64::from(live_cap));
                let inserted = query.fetch_optional(&mut *tx).await;
                let inserted = inserted.map_err(rows::conflict("this API key"))?;
                inserted.as_ref().map(rows::api_key).transpose()
            })
        })
        .await
    }

    #[instrument(level = "debug", skip_all, err)]
    async fn api_key_by_hash(&self, hash: &[u8]) -> StoreResult<Option<(ApiKeyInfo, User)>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k
             WHERE k.key_hash = $1"
        );
        let query = sqlx::query(&sql).bind(hash);
        let row = query.fetch_optional(&self.pool).await?;
        let Some(key) = row.as_ref().map(rows::api_key).transpose()? else {
            return Ok(None);
        };
        let owner = self.user_by_id(key.user_id).await?;
        rows::key_with_owner(key, owner).map(Some)
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn sealed_keys_of_user(&self, user: UserId) -> StoreResult<Vec<(ApiKeyInfo, Vec<u8>)>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS}, k.key_sealed FROM api_keys k WHERE k.user_id = $1
             AND k.revoked_at IS NULL ORDER BY k.id"
        );
        let found = sqlx::query(&sql).bind(user.0).fetch_all(&self.pool).await?;
        found.iter().map(rows::sealed_key).collect()
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn sealed_key(&self, key_id: i64) -> StoreResult<Option<Vec<u8>>> {
        let query = sqlx::query_as(
            "SELECT key_sealed FROM api_keys
             WHERE id = $1",
        );
        let row: Option<(Vec<u8>,)> = query.bind(key_id).fetch_optional(&self.pool).await?;
        Ok(row.map(|(sealed,)| sealed))
    }

    #[instrument(skip(self), err)]
    async fn list_api_keys(&self, user: UserId) -> StoreResult<Vec<ApiKeyInfo>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k
             WHERE k.user_id = $1 ORDER BY k.id DESC"
        );
        let found = sqlx::query(&sql).bind(user.0).fetch_all(&self.pool).await?;
        found.iter().map(rows::api_key).collect()
    }

    #[instrument(skip(self), err)]
    async fn revoke_api_key(&self, user: UserId, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1
             WHERE user_id = $2 AND public_id = $3 AND revoked_at IS NULL",
        );
        let query = query.bind(to_millis(at)).bind(user.0).bind(id);
        Ok(query.execute(&self.pool).await?.rows_affected() > 0)
    }

    // Last-used times are written again a second later when this fails (key_uses.rs).
    #[instrument(level = "debug", skip(self), err(level = "debug"))]
    async fn touch_api_key(&self, key_id: i64, at: DateTime<Utc>) -> StoreResult<()> {
        // One write per minute and key at most: last-used is for people, not for accounting.
        let query = sqlx::query(
            "UPDATE api_keys SET last_used_at = $1
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1 - 60000)",
        );
        query
            .bind(to_millis(at))
            .bind(key_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
