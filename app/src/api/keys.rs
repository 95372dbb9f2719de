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
            domains: k.scope.domains,
            kinds: k
                .scope
                .kinds
                .map(|kinds| kinds.iter().map(|k| k.as_str().to_owned()).collect()),
            read_only: k.scope.read_only,
        })
        .collect())
}

/// Creates a key, limited to `domains` and `kinds` (comma- or space-separated; empty: all) and
/// to reading when `read_only` is sent; the secret is returned this once.
#[server]
pub async fn create_key(
    label: String,
    #[server(default)] domains: String,
    #[server(default)] kinds: String,
    #[server(default)] read_only: Option<String>,
) -> Result<NewKey, AppError> {
    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    let list = |text: &str| -> Option<Vec<String>> {
        let items: Vec<String> = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect();
        (!items.is_empty()).then_some(items)
    };
    let kinds = list(&kinds)
        .map(|names| {
            names
                .iter()
                .map(|name| {
                    engine::target::TargetKind::parse(name)
                        .ok_or_else(|| AppError::Invalid(format!("unknown purge kind {name:?}")))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let scope = engine::key_scope::KeyScope {
        domains: list(&domains),
        kinds,
        read_only: read_only.is_some(),
    };
    let (info, secret) = engine
        .create_scoped_key(&engine::Actor::user(&user), user.id, label.trim(), scope)
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
