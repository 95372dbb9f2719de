//! Checking and submitting purges, and today's quota.

use leptos::prelude::*;

use super::error::AppError;
use crate::models::{DomainGroups, LineVerdict, PurgeForm, QuotaSummary, SubmitResult};

/// The user's domains and the edge groups serving each: the purge form's choices.
#[server]
pub async fn purge_choices() -> Result<DomainGroups, AppError> {
    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    let domains = engine
        .purge_choices(&user)
        .await?
        .into_iter()
        .map(|(domain, groups)| (domain.to_string(), groups))
        .collect();
    Ok(DomainGroups { domains })
}

/// Validates lines as the user types: which line is invalid and why, which domain it hits (at
/// most a request's worth of lines, rate-limited per session). Tags are checked on `domain`.
#[server]
pub async fn check_targets(
    kind: String,
    text: String,
    #[server(default)] domain: String,
) -> Result<Vec<LineVerdict>, AppError> {
    use engine::target::TargetKind;

    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    let token = super::context::session_token().ok_or(AppError::Unauthorized)?;
    let kind = TargetKind::parse(&kind).ok_or_else(|| AppError::Invalid("unknown kind".into()))?;
    let checks = engine
        .check_targets(&token, &user, kind, &text, non_empty(&domain))
        .await?
        .map_err(|wait| {
            AppError::RateLimited(format!(
                "checking too fast; try again in {} s",
                wait.as_secs() + 1
            ))
        })?;
    Ok(checks
        .into_iter()
        .map(|check| {
            let (ok, message) = match check.result {
                Ok(domain) => (true, format!("on {domain}")),
                Err(message) => (false, message),
            };
            LineVerdict {
                kind: kind.as_str().into(),
                target: check.target,
                ok,
                code: None,
                message,
                task_id: None,
            }
        })
        .collect())
}

/// `None` for a blank form field, else the trimmed text.
#[cfg(feature = "ssr")]
fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Submits the form's boxes (one target per line), or everything on its domain, in its mode
/// to its edge groups; a verdict per line.
#[server]
pub async fn submit_purge(form: PurgeForm) -> Result<SubmitResult, AppError> {
    use engine::submit::{Source, Submission};
    use engine::target::{PurgeMode, TargetKind, WholeHost};

    let PurgeForm {
        urls,
        prefixes,
        regexes,
        tags,
        domain,
        everything,
        mode,
        groups,
        verify,
        prefetch_after,
    } = form;
    let engine = super::context::engine()?;

    let user = super::context::user().await?;
    let lines = |text: &str, kind: TargetKind| -> Vec<(TargetKind, String)> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| (kind, l.to_owned()))
            .collect()
    };
    let mut targets = lines(&urls, TargetKind::Url);
    targets.extend(lines(&prefixes, TargetKind::Prefix));
    targets.extend(lines(&regexes, TargetKind::Regex));
    targets.extend(lines(&tags, TargetKind::Tag));
    if everything {
        targets.push((TargetKind::Everything, WholeHost::TARGET.to_owned()));
    }
    let mode = match mode.trim() {
        "" => PurgeMode::Delete,
        name => PurgeMode::parse(name)
            .ok_or_else(|| AppError::Invalid(format!("unknown mode {name:?}")))?,
    };
    let submission = Submission {
        domain: non_empty(&domain),
        mode,
        groups: groups.split(',').filter_map(non_empty).collect(),
        verify,
        prefetch_after,
        ..Submission::new(Source::Dashboard, targets)
    };
    submit_as(&engine, &user, submission).await
}

/// Submits `submission` for `user`: the batch and a verdict per line.
#[cfg(feature = "ssr")]
async fn submit_as(
    engine: &engine::Engine,
    user: &engine::users::User,
    submission: engine::submit::Submission,
) -> Result<SubmitResult, AppError> {
    use engine::submit::SubmitError;

    let outcome = engine
        .submit(user, submission)
        .await
        .map_err(|error| match error {
            SubmitError::Store(error) => AppError::from(engine::EngineError::from(error)),
            SubmitError::Busy(_) => AppError::Busy,
            other => AppError::Invalid(other.to_string()),
        })?;
    let verdicts = outcome
        .verdicts
        .into_iter()
        .map(|verdict| {
            let (ok, code, message, task_id) = match verdict.result {
                Ok(task) => (true, None, "accepted".to_owned(), Some(task.id.to_string())),
                Err(refusal) => (
                    false,
                    Some(refusal.code().to_owned()),
                    refusal.message(),
                    None,
                ),
            };
            LineVerdict {
                kind: verdict.kind.as_str().into(),
                target: verdict.target,
                ok,
                code,
                message,
                task_id,
            }
        })
        .collect();
    Ok(SubmitResult {
        batch_id: outcome.batch_id.map(|id| id.to_string()),
        verdicts,
        warnings: outcome.warnings,
    })
}

/// Prefetches the URLs of `urls` (one per line) through the edges of their domains, or of the
/// edge `groups` (names separated by commas); a verdict per line.
#[server]
pub async fn submit_prefetch(urls: String, groups: String) -> Result<SubmitResult, AppError> {
    use engine::submit::{Source, Submission};
    use engine::target::TargetKind;

    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    let targets = urls
        .lines()
        .filter_map(non_empty)
        .map(|url| (TargetKind::Prefetch, url))
        .collect();
    let submission = Submission {
        groups: groups.split(',').filter_map(non_empty).collect(),
        ..Submission::new(Source::Dashboard, targets)
    };
    submit_as(&engine, &user, submission).await
}

/// Today's quota per kind, with the day shown in the user's zone.
#[server]
pub async fn today_quota() -> Result<QuotaSummary, AppError> {
    use engine::target::TargetKind;

    use crate::models::KindQuota;

    let engine = super::context::engine()?;

    let user = super::context::user().await?;
    let quota = engine.quota_status(&user).await?;
    let zone = super::context::zone_of(&user, &engine);
    let left = quota.left();
    let kinds = TargetKind::ALL
        .into_iter()
        .map(|kind| KindQuota {
            kind: kind.as_str().into(),
            limit: quota.limits.daily(kind),
            used: quota.used.get(kind),
            left: left.get(kind),
        })
        .collect();
    let window = format!(
        "{} – {} ({})",
        super::context::local_time(quota.day.start, &zone),
        super::context::local_time(quota.day.end - chrono::Duration::seconds(1), &zone),
        zone.as_str()
    );
    Ok(QuotaSummary {
        kinds,
        window,
        per_request: quota.limits.batch,
    })
}
