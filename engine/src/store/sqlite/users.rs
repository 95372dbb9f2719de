//! Users and API keys.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use crate::store::rows::{self, KEY_COLUMNS, USER_COLUMNS};
use crate::store::{ApiKeyInfo, NewApiKey, StoreError, UserUpdate};
use crate::time::to_millis;
use crate::users::{NewUser, User, UserId};

pub(super) async fn create(
    pool: &SqlitePool,
    user: &NewUser,
    at: DateTime<Utc>,
) -> Result<User, StoreError> {
    let id: (i64,) = sqlx::query_as(
        "INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id",
    )
    .bind(&user.username)
    .bind(user.role.as_str())
    .bind(&user.password_hash)
    .bind(to_millis(at))
    .fetch_one(pool)
    .await
    .map_err(rows::conflict(format!("user {}", user.username)))?;
    by_id(pool, UserId(id.0))
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {}", id.0)))
}

pub(super) async fn by_id(pool: &SqlitePool, id: UserId) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?");
    sqlx::query(&sql)
        .bind(id.0)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(rows::user)
        .transpose()
}

pub(super) async fn with_password(
    pool: &SqlitePool,
    username: &str,
) -> Result<Option<(User, Option<String>)>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = ?");
    let Some(row) = sqlx::query(&sql)
        .bind(username)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    use sqlx::Row;
    Ok(Some((rows::user(&row)?, row.try_get("password_hash")?)))
}

pub(super) async fn update(
    pool: &SqlitePool,
    id: UserId,
    update: &UserUpdate,
) -> Result<Option<User>, StoreError> {
    let quota = update.quota.unwrap_or_default();
    let result = sqlx::query(
        "UPDATE users SET
            role = COALESCE(?, role),
            enabled = COALESCE(?, enabled),
            can_purge = COALESCE(?, can_purge),
            password_hash = COALESCE(?, password_hash),
            time_zone = COALESCE(?, time_zone),
            quota_url = CASE WHEN ? THEN ? ELSE quota_url END,
            quota_prefix = CASE WHEN ? THEN ? ELSE quota_prefix END,
            quota_regex = CASE WHEN ? THEN ? ELSE quota_regex END,
            quota_batch = CASE WHEN ? THEN ? ELSE quota_batch END
         WHERE id = ?",
    )
    .bind(update.role.map(|r| r.as_str()))
    .bind(update.enabled)
    .bind(update.can_purge)
    .bind(&update.password_hash)
    .bind(&update.time_zone)
    .bind(update.quota.is_some())
    .bind(quota.url.map(i64::from))
    .bind(update.quota.is_some())
    .bind(quota.prefix.map(i64::from))
    .bind(update.quota.is_some())
    .bind(quota.regex.map(i64::from))
    .bind(update.quota.is_some())
    .bind(quota.batch.map(i64::from))
    .bind(id.0)
    .execute(pool)
    .await?;
    if result.rows_affected() == 0 {
        return Ok(None);
    }
    by_id(pool, id).await
}

pub(super) async fn list(pool: &SqlitePool) -> Result<Vec<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.username");
    sqlx::query(&sql)
        .fetch_all(pool)
        .await?
        .iter()
        .map(rows::user)
        .collect()
}

pub(super) async fn insert_key(
    pool: &SqlitePool,
    key: &NewApiKey,
) -> Result<ApiKeyInfo, StoreError> {
    let sql = format!(
        "INSERT INTO api_keys (user_id, public_id, label, key_hash, key_sealed, created_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING {}",
        KEY_COLUMNS.replace("k.", "")
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
    pool: &SqlitePool,
    hash: &[u8],
) -> Result<Option<(ApiKeyInfo, User)>, StoreError> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.key_hash = ?");
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
    pool: &SqlitePool,
    user: UserId,
) -> Result<Vec<(ApiKeyInfo, Vec<u8>)>, StoreError> {
    use sqlx::Row;
    let sql = format!(
        "SELECT {KEY_COLUMNS}, k.key_sealed FROM api_keys k WHERE k.user_id = ? AND k.revoked_at IS NULL ORDER BY k.id"
    );
    sqlx::query(&sql)
        .bind(user.0)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| Ok((rows::api_key(row)?, row.try_get("key_sealed")?)))
        .collect()
}

pub(super) async fn sealed_key(
    pool: &SqlitePool,
    key_id: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT key_sealed FROM api_keys WHERE id = ?")
        .bind(key_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(sealed,)| sealed))
}

pub(super) async fn list_keys(
    pool: &SqlitePool,
    user: UserId,
) -> Result<Vec<ApiKeyInfo>, StoreError> {
    let sql =
        format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.user_id = ? ORDER BY k.id DESC");
    sqlx::query(&sql)
        .bind(user.0)
        .fetch_all(pool)
        .await?
        .iter()
        .map(rows::api_key)
        .collect()
}

pub(super) async fn revoke_key(
    pool: &SqlitePool,
    user: UserId,
    public_id: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE api_keys SET revoked_at = ? WHERE user_id = ? AND public_id = ? AND revoked_at IS NULL",
    )
    .bind(to_millis(at))
    .bind(user.0)
    .bind(public_id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() > 0)
}

pub(super) async fn touch_key(
    pool: &SqlitePool,
    key_id: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    // One write per minute and key at most: last-used is for people, not for accounting.
    sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)")
        .bind(to_millis(at))
        .bind(key_id)
        .bind(to_millis(at) - 60_000)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn create_session(
    pool: &SqlitePool,
    token_hash: &[u8],
    user: UserId,
    at: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
        .bind(to_millis(at))
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
    )
    .bind(token_hash)
    .bind(user.0)
    .bind(to_millis(at))
    .bind(to_millis(expires))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn session_user(
    pool: &SqlitePool,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<User>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?"
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

pub(super) async fn delete_session(pool: &SqlitePool, token_hash: &[u8]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(())
}
