//! Users, sessions and API keys on PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use crate::store::rows::{self, KEY_COLUMNS, USER_COLUMNS};
use crate::store::{ApiKeyInfo, NewApiKey, StoreError, UserUpdate};
use crate::time::to_millis;
use crate::users::{NewUser, User, UserId};

pub(super) async fn create(
    pool: &PgPool,
    user: &NewUser,
    at: DateTime<Utc>,
) -> Result<User, StoreError> {
    let sql = format!(
        "INSERT INTO users AS u (username, role, password_hash, created_at) VALUES ($1, $2, $3, $4)
         RETURNING {USER_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(&user.username)
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(to_millis(at))
        .fetch_one(pool)
        .await
        .map_err(rows::conflict(format!("user {}", user.username)))?;
    rows::user(&row)
}

pub(super) async fn by_id(pool: &PgPool, id: UserId) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
    sqlx::query(&sql)
        .bind(id.0)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(rows::user)
        .transpose()
}

pub(super) async fn with_password(
    pool: &PgPool,
    username: &str,
) -> Result<Option<(User, Option<String>)>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = $1");
    let Some(row) = sqlx::query(&sql)
        .bind(username)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((rows::user(&row)?, row.try_get("password_hash")?)))
}

pub(super) async fn update(
    pool: &PgPool,
    id: UserId,
    update: &UserUpdate,
) -> Result<Option<User>, StoreError> {
    let quota = update.quota.unwrap_or_default();
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
            quota_batch = CASE WHEN $6 THEN $10 ELSE quota_batch END
         WHERE id = $11 RETURNING {USER_COLUMNS}"
    );
    sqlx::query(&sql)
        .bind(update.role.map(|r| r.as_str()))
        .bind(update.enabled)
        .bind(update.can_purge)
        .bind(&update.password_hash)
        .bind(&update.time_zone)
        .bind(update.quota.is_some())
        .bind(quota.url.map(i64::from))
        .bind(quota.prefix.map(i64::from))
        .bind(quota.regex.map(i64::from))
        .bind(quota.batch.map(i64::from))
        .bind(id.0)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(rows::user)
        .transpose()
}

pub(super) async fn list(pool: &PgPool) -> Result<Vec<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.username");
    sqlx::query(&sql)
        .fetch_all(pool)
        .await?
        .iter()
        .map(rows::user)
        .collect()
}

pub(super) async fn create_session(
    pool: &PgPool,
    token_hash: &[u8],
    user: UserId,
    at: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(to_millis(at))
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(user.0)
    .bind(to_millis(at))
    .bind(to_millis(expires))
    .execute(pool)
    .await
    .map_err(rows::missing(format!("user {}", user.0)))?;
    Ok(())
}

pub(super) async fn session_user(
    pool: &PgPool,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<User>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > $2"
    );
    sqlx::query(&sql)
        .bind(token_hash)
        .bind(to_millis(now))
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(rows::user)
        .transpose()
}

pub(super) async fn insert_key(pool: &PgPool, key: &NewApiKey) -> Result<ApiKeyInfo, StoreError> {
    let sql = format!(
        "INSERT INTO api_keys AS k (user_id, public_id, label, key_hash, key_sealed, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {KEY_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(key.user_id.0)
        .bind(&key.public_id)
        .bind(&key.label)
        .bind(&key.key_hash)
        .bind(&key.key_sealed)
        .bind(to_millis(key.created_at))
        .fetch_one(pool)
        .await
        .map_err(rows::conflict("this API key"))?;
    rows::api_key(&row)
}

pub(super) async fn key_by_hash(
    pool: &PgPool,
    hash: &[u8],
) -> Result<Option<(ApiKeyInfo, User)>, StoreError> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.key_hash = $1");
    let Some(row) = sqlx::query(&sql).bind(hash).fetch_optional(pool).await? else {
        return Ok(None);
    };
    let key = rows::api_key(&row)?;
    let user = by_id(pool, key.user_id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {}", key.user_id.0)))?;
    Ok(Some((key, user)))
}

pub(super) async fn sealed_keys_of_user(
    pool: &PgPool,
    user: UserId,
) -> Result<Vec<(ApiKeyInfo, Vec<u8>)>, StoreError> {
    let sql = format!(
        "SELECT {KEY_COLUMNS}, k.key_sealed FROM api_keys k
         WHERE k.user_id = $1 AND k.revoked_at IS NULL ORDER BY k.id"
    );
    sqlx::query(&sql)
        .bind(user.0)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| Ok((rows::api_key(row)?, row.try_get("key_sealed")?)))
        .collect()
}

pub(super) async fn list_keys(pool: &PgPool, user: UserId) -> Result<Vec<ApiKeyInfo>, StoreError> {
    let sql =
        format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.user_id = $1 ORDER BY k.id DESC");
    sqlx::query(&sql)
        .bind(user.0)
        .fetch_all(pool)
        .await?
        .iter()
        .map(rows::api_key)
        .collect()
}
