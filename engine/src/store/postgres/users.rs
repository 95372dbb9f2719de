//! Users and their dashboard sessions on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::instrument;

use super::PgStore;
use crate::store::binds;
use crate::store::rows::{self, USER_COLUMNS};
use crate::store::{StoreResult, UserStore, UserUpdate};
use crate::time::to_millis;
use crate::users::{NewUser, User, UserId};

#[async_trait]
impl UserStore for PgStore {
    #[instrument(skip(self), err)]
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.username");
        let found = sqlx::query(&sql).fetch_all(&self.pool).await?;
        found.iter().map(rows::user).collect()
    }

    #[instrument(skip_all, fields(username = %user.username), err(level = "info"))]
    async fn create_user(&self, user: &NewUser, at: DateTime<Utc>) -> StoreResult<User> {
        let sql = format!(
            "INSERT INTO users AS u (username, role, password_hash, created_at)
             VALUES ($1, $2, $3, $4) RETURNING {USER_COLUMNS}"
        );
        let inserted = binds::new_user(sqlx::query(&sql), user, at)
            .fetch_one(&self.pool)
            .await;
        rows::user(&inserted.map_err(rows::conflict(format!("user {}", user.username)))?)
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u
             WHERE u.id = $1"
        );
        let query = sqlx::query(&sql).bind(id.0);
        let row = query.fetch_optional(&self.pool).await?;
        row.as_ref().map(rows::user).transpose()
    }

    #[instrument(skip(self), err)]
    async fn user_with_password(&self, name: &str) -> StoreResult<Option<(User, Option<String>)>> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u
             WHERE u.username = $1"
        );
        let query = sqlx::query(&sql).bind(name);
        let row = query.fetch_optional(&self.pool).await?;
        row.as_ref().map(rows::user_with_password).transpose()
    }

    #[instrument(skip(self, update), err)]
    async fn update_user(&self, id: UserId, update: &UserUpdate) -> StoreResult<Option<User>> {
        let sql = format!(
            "UPDATE users AS u SET
                role = COALESCE($1, role),
                enabled = COALESCE($2, enabled),
                can_purge = COALESCE($3, can_purge),
                password_hash = COALESCE($4, password_hash),
                time_zone = COALESCE($5, time_zone),
                quota_url = CASE WHEN $6 THEN $7 ELSE quota_url END,
                quota_prefix = CASE WHEN $6 THEN $8 ELSE quota_prefix END,
                quota_regex = CASE WHEN $6 THEN $9 ELSE quota_regex END,
                quota_batch = CASE WHEN $6 THEN $10 ELSE quota_batch END,
                quota_tag = CASE WHEN $6 THEN $12 ELSE quota_tag END,
                quota_everything = CASE WHEN $6 THEN $13 ELSE quota_everything END,
                quota_prefetch = CASE WHEN $6 THEN $14 ELSE quota_prefetch END,
                locale = COALESCE($15, locale)
             WHERE id = $11 RETURNING {USER_COLUMNS}"
        );
        let query = binds::user_update(sqlx::query(&sql), id, update);
        let row = query.fetch_optional(&self.pool).await?;
        row.as_ref().map(rows::user).transpose()
    }

    #[instrument(skip(self, token_hash), err)]
    async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> StoreResult<()> {
        // Expired sessions go in the same round trip.
        let query = sqlx::query(
            "WITH expired AS (DELETE FROM sessions WHERE expires_at < $3)
             INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        );
        let query = binds::new_session(query, token_hash, user, at, expires);
        let inserted = query.execute(&self.pool).await;
        inserted.map_err(rows::missing(format!("user {}", user.0)))?;
        Ok(())
    }

    #[instrument(level = "debug", skip(self, hash), err)]
    async fn session_user(&self, hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2"
        );
        let query = sqlx::query(&sql).bind(hash).bind(to_millis(now));
        let row = query.fetch_optional(&self.pool).await?;
        row.as_ref().map(rows::user).transpose()
    }

    #[instrument(skip_all, err)]
    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        let query = sqlx::query(
            "DELETE FROM sessions
             WHERE token_hash = $1",
        );
        query.bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }
}
