//! Admins' server functions: users, quotas, domains and the audit log (edges: `fleet`).

use leptos::prelude::*;

use super::error::AppError;
use crate::models::{AuditRow, DomainRow, QuotaFields, UserRow};

/// A user by name, or [`AppError::NotFound`].
#[cfg(feature = "ssr")]
async fn find_user(
    engine: &engine::Engine,
    username: &str,
) -> Result<engine::users::User, AppError> {
    engine
        .user_by_name(username)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("user {username}")))
}

/// Every user, with limits and the last 30 days of usage.
#[server]
pub async fn admin_users() -> Result<Vec<UserRow>, AppError> {
    let engine = super::context::engine()?;
    let _admin = super::context::admin().await?;
    let today = engine.quota_day().date;
    let first = today - chrono::Duration::days(29);
    let mut rows = Vec::new();
    for user in engine.list_users().await? {
        let limits = user.quota.resolve(&engine.config().quota);
        let history = engine.quota_history(user.id, first, today).await?;
        let usage = (0..30)
            .map(|offset| {
                let day = first + chrono::Duration::days(offset);
                let key = day.format("%Y-%m-%d").to_string();
                let used = history
                    .iter()
                    .find(|(d, _)| *d == key)
                    .map(|(_, u)| u.total())
                    .unwrap_or(0);
                (day.format("%m-%d").to_string(), used)
            })
            .collect();
        rows.push(UserRow {
            username: user.username,
            role: user.role.as_str().into(),
            enabled: user.enabled,
            can_purge: user.can_purge,
            limits: crate::models::LimitsRow {
                url: limits.url,
                prefix: limits.prefix,
                regex: limits.regex,
                tag: limits.tag,
                everything: limits.everything,
                prefetch: limits.prefetch,
                batch: limits.batch,
            },
            usage,
        });
    }
    Ok(rows)
}

/// Creates a user with a password.
#[server]
pub async fn admin_create_user(
    username: String,
    role: String,
    password: String,
) -> Result<(), AppError> {
    let engine = super::context::engine()?;
    let admin = super::context::admin().await?;
    let role = engine::users::Role::parse(&role)
        .ok_or_else(|| AppError::Invalid("role is admin or developer".into()))?;
    engine
        .create_user(
            &engine::Actor::user(&admin),
            username.trim(),
            role,
            Some(&password),
        )
        .await?;
    Ok(())
}

/// Changes one thing of a user: `enabled`, `can_purge`, `role` or `password`.
#[server]
pub async fn admin_update_user(
    username: String,
    field: String,
    value: String,
) -> Result<(), AppError> {
    use engine::store::UserUpdate;

    let engine = super::context::engine()?;

    let admin = super::context::admin().await?;
    let user = find_user(&engine, &username).await?;
    let flag = || value == "true";
    let (update, password) = match field.as_str() {
        "enabled" => (
            UserUpdate {
                enabled: Some(flag()),
                ..Default::default()
            },
            None,
        ),
        "can_purge" => (
            UserUpdate {
                can_purge: Some(flag()),
                ..Default::default()
            },
            None,
        ),
        "role" => {
            let role = engine::users::Role::parse(&value)
                .ok_or_else(|| AppError::Invalid("role is admin or developer".into()))?;
            (
                UserUpdate {
                    role: Some(role),
                    ..Default::default()
                },
                None,
            )
        }
        "password" => (UserUpdate::default(), Some(value.as_str())),
        other => return Err(AppError::Invalid(format!("unknown field {other}"))),
    };
    engine
        .update_user(&engine::Actor::user(&admin), user.id, update, password)
        .await?;
    Ok(())
}

/// Sets a user's limits (empty fields keep the default).
#[server]
pub async fn admin_set_quota(username: String, limits: QuotaFields) -> Result<(), AppError> {
    let QuotaFields {
        url,
        prefix,
        regex,
        tag,
        everything,
        prefetch,
        batch,
    } = limits;
    let engine = super::context::engine()?;
    let admin = super::context::admin().await?;
    let user = find_user(&engine, &username).await?;
    let number = |text: &str, name: &str| -> Result<Option<u32>, AppError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        text.trim()
            .parse()
            .map(Some)
            .map_err(|_| AppError::Invalid(format!("{name} must be a whole number")))
    };
    let quota = engine::users::QuotaOverrides {
        url: number(&url, "url")?,
        prefix: number(&prefix, "prefix")?,
        regex: number(&regex, "regex")?,
        tag: number(&tag, "tag")?,
        everything: number(&everything, "everything")?,
        prefetch: number(&prefetch, "prefetch")?,
        batch: number(&batch, "per request")?,
    };
    engine
        .set_quota(&engine::Actor::user(&admin), user.id, quota)
        .await?;
    Ok(())
}

/// Every domain with its users and groups.
#[server]
pub async fn admin_domains() -> Result<Vec<DomainRow>, AppError> {
    let engine = super::context::engine()?;
    let _admin = super::context::admin().await?;
    Ok(engine
        .list_domains()
        .await?
        .into_iter()
        .map(|d| DomainRow {
            host: d.host.to_string(),
            users: d.users,
            groups: d.groups,
        })
        .collect())
}

/// Creates a domain or assigns users and groups to it (comma-separated names).
#[server]
pub async fn admin_add_domain(host: String, users: String, groups: String) -> Result<(), AppError> {
    let engine = super::context::engine()?;
    let admin = super::context::admin().await?;
    let list = |text: &str| -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    engine
        .add_domain(
            &engine::Actor::user(&admin),
            &host,
            &list(&users),
            &list(&groups),
        )
        .await?;
    Ok(())
}

/// A page (50) of the audit log, newest first, filtered by actor and action prefix.
#[server]
pub async fn admin_audit(
    actor: String,
    action: String,
    before: Option<i64>,
) -> Result<(Vec<AuditRow>, Option<i64>), AppError> {
    let engine = super::context::engine()?;
    let admin = super::context::admin().await?;
    let zone = super::context::zone_of(&admin, &engine);
    let filter = engine::store::AuditFilter {
        actor: Some(actor.trim().to_owned()).filter(|a| !a.is_empty()),
        action_prefix: Some(action.trim().to_owned()).filter(|a| !a.is_empty()),
        before_id: before,
        limit: 51,
    };
    let mut entries = engine.list_audit(&filter).await?;
    let next = (entries.len() > 50).then(|| {
        entries.truncate(50);
        entries.last().map(|e| e.id)
    });
    let rows = entries
        .into_iter()
        .map(|e| AuditRow {
            id: e.id,
            at: super::context::local_time(e.at, &zone),
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            detail: e.detail.to_string(),
        })
        .collect();
    Ok((rows, next.flatten()))
}
