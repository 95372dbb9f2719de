//! The signed-in user's API keys and domains.

use leptos::prelude::*;

use super::error::AppError;
use crate::models::{KeyRow, NewKey};

/// The user's keys, newest first.
#[server]
pub async fn list_keys() -> Result<Vec<KeyRow>, AppError> {
    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    let zone = super::context::zone_of(&user, &engine);
    let time = |t: chrono::DateTime<chrono::Utc>| super::context::local_time(t, &zone);
    Ok(engine
        .list_keys(user.id)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            id: k.public_id,
            label: k.label,
            created_at: time(k.created_at),
            last_used_at: k.last_used_at.map(time),
            revoked_at: k.revoked_at.map(time),
        })
        .collect())
}

/// Creates a key; the secret is returned this once.
#[server]
pub async fn create_key(label: String) -> Result<NewKey, AppError> {
    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    let (info, secret) = engine
        .create_key(&engine::Actor::user(&user), user.id, label.trim())
        .await?;
    Ok(NewKey {
        id: info.public_id,
        key: secret.expose().to_owned(),
    })
}

/// Revokes one of the user's keys.
#[server]
pub async fn revoke_key(id: String) -> Result<(), AppError> {
    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    Ok(engine
        .revoke_key(&engine::Actor::user(&user), user.id, &id)
        .await?)
}

/// The domains the user may purge.
#[server]
pub async fn my_domains() -> Result<Vec<String>, AppError> {
    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    Ok(engine
        .domains_of_user(user.id)
        .await?
        .into_iter()
        .map(|d| d.to_string())
        .collect())
}
