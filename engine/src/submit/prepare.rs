//! Checking a submission without the database and preparing the batch the store writes; then
//! applying what the store decided to the verdicts.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{AcceptedTask, Refusal, Submission, SubmitError, TargetVerdict, MAX_GROUPS};
use crate::ids::{BatchId, TaskId};
use crate::store::{AuditEntry, NewBatch, NewTask, StoreRefusal};
use crate::target::{DomainName, PurgeMode, Target, TargetKind};
use crate::time::QuotaDay;
use crate::users::{QuotaLimits, User};

/// The dashboard's inline verdict on one line: the domain it is on, or why it is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineCheck {
    /// The line, trimmed.
    pub target: String,
    /// The domain that serves it, or a message.
    pub result: Result<DomainName, String>,
}

/// Parses `lines` as targets of `kind` (tags on `host`) and finds each one's domain among
/// `domains`.
pub fn check_lines(
    kind: TargetKind,
    lines: Vec<String>,
    host: Option<&str>,
    domains: &[(i64, DomainName)],
) -> Vec<LineCheck> {
    lines
        .into_iter()
        .map(|line| {
            let result = match Target::parse_on(kind, &line, host) {
                Err(error) => Err(error.to_string()),
                Ok(target) => domain_for(domains, target.host())
                    .and_then(|id| domains.iter().find(|(domain_id, _)| *domain_id == id))
                    .map(|(_, domain)| domain.clone())
                    .ok_or_else(|| format!("{} is not one of your domains", target.host())),
            };
            LineCheck {
                target: line,
                result,
            }
        })
        .collect()
}

/// Merges identical targets (same kind and trimmed text), keeping the first occurrence.
pub fn dedupe(targets: Vec<(TargetKind, String)>) -> Vec<(TargetKind, String)> {
    let mut seen = HashSet::new();
    targets
        .into_iter()
        .map(|(kind, text)| (kind, text.trim().to_owned()))
        .filter(|(kind, text)| seen.insert((*kind, text.clone())))
        .collect()
}

/// The domain of `domains` that serves `host`, preferring an exact name over a wildcard.
pub fn domain_for(domains: &[(i64, DomainName)], host: &str) -> Option<i64> {
    domains
        .iter()
        .filter(|(_, domain)| domain.matches(host))
        .min_by_key(|(_, domain)| domain.is_wildcard())
        .map(|(id, _)| *id)
}

fn check_client_key(value: &Option<String>, name: &'static str) -> Result<(), SubmitError> {
    match value {
        Some(key)
            if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Err(SubmitError::InvalidClientKey(name))
        }
        _ => Ok(()),
    }
}

/// Checks what can be checked without the database and prepares the batch to write.
pub(crate) struct Prepared {
    pub batch: NewBatch,
    pub verdicts: Vec<TargetVerdict>,
    /// Index into `verdicts` of each task of `batch.tasks`.
    pub task_verdicts: Vec<usize>,
}

pub(crate) fn prepare(
    user: &User,
    submission: &Submission,
    domains: &[(i64, DomainName)],
    limits: QuotaLimits,
    day: &QuotaDay,
    now: DateTime<Utc>,
) -> Result<Prepared, SubmitError> {
    if !user.enabled {
        return Err(SubmitError::UserDisabled);
    }
    if !user.can_purge {
        return Err(SubmitError::NotAllowed);
    }
    check_client_key(&submission.idempotency_key, "idempotency_key")?;
    check_client_key(&submission.client_task_id, "taskId")?;
    let targets = dedupe(submission.targets.clone());
    if targets.is_empty() {
        return Err(SubmitError::Empty);
    }
    let scope = &submission.key_scope;
    if !targets.iter().any(|(kind, _)| scope.allows_kind(*kind)) {
        return Err(SubmitError::KeyNotAllowed(scope.describe()));
    }
    if submission.groups.len() > MAX_GROUPS {
        return Err(SubmitError::TooManyGroups);
    }
    if submission.verify || submission.prefetch_after {
        if targets.iter().any(|(kind, _)| *kind != TargetKind::Url) {
            return Err(SubmitError::FollowUpNeedsUrls);
        }
        if submission.verify && submission.mode == PurgeMode::Invalidate {
            return Err(SubmitError::VerifyNeedsDelete);
        }
    }
    let domain = submission.domain.as_deref().map(str::trim);
    match domain {
        None if targets.iter().any(|(kind, _)| kind.needs_host()) => {
            return Err(SubmitError::DomainRequired)
        }
        Some(host) if domain_for(domains, &host.to_ascii_lowercase()).is_none() => {
            return Err(SubmitError::NotYourDomain(host.to_owned()))
        }
        _ => {}
    }
    if targets.len() > limits.batch as usize {
        return Err(SubmitError::TooMany {
            limit: limits.batch,
        });
    }
    let batch_id = BatchId::generate();
    let mut verdicts = Vec::with_capacity(targets.len());
    let mut tasks = Vec::with_capacity(targets.len());
    let mut task_verdicts = Vec::with_capacity(targets.len());
    for (kind, text) in targets {
        let result = match Target::parse_on(kind, &text, domain) {
            _ if !scope.allows_kind(kind) => Err(Refusal::KindNotAllowed),
            Err(error) => Err(Refusal::Invalid(error.to_string())),
            Ok(target) => match domain_for(domains, target.host()) {
                None => Err(Refusal::NotYourDomain),
                Some(domain_id) => {
                    let id = TaskId::generate();
                    task_verdicts.push(verdicts.len());
                    tasks.push(NewTask {
                        id: id.clone(),
                        kind,
                        target: target.as_str().to_owned(),
                        host: kind.needs_host().then(|| target.host().to_owned()),
                        domain_id,
                    });
                    Ok(AcceptedTask::new(id, now))
                }
            },
        };
        verdicts.push(TargetVerdict {
            kind,
            target: text,
            result,
        });
    }
    let audit = AuditEntry {
        id: 0,
        at: now,
        actor_id: Some(user.id),
        actor: user.username.clone(),
        action: "purge.submit".into(),
        subject: batch_id.to_string(),
        detail: serde_json::json!({
            "source": submission.source.as_str(),
            "targets": tasks.len(),
            "kinds": kind_counts(&tasks),
            "mode": submission.mode.as_str(),
            "groups": distinct_names(&submission.groups),
            "verify": submission.verify,
            "prefetch": submission.prefetch_after,
        }),
    };
    let batch = NewBatch {
        id: batch_id,
        user_id: user.id,
        api_key_id: submission.api_key_id,
        source: submission.source.as_str(),
        idempotency_key: submission.idempotency_key.clone(),
        client_task_id: submission.client_task_id.clone(),
        callback_url: submission.callback_url.clone(),
        mode: submission.mode,
        groups: distinct_names(&submission.groups),
        verify: submission.verify,
        prefetch_after: submission.prefetch_after,
        created_at: now,
        day: day.key(),
        limits,
        tasks,
        audit,
    };
    Ok(Prepared {
        batch,
        verdicts,
        task_verdicts,
    })
}

/// Trimmed, non-empty names, each once, in order.
fn distinct_names(names: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    names
        .iter()
        .map(|name| name.trim())
        .filter(|name| !name.is_empty() && seen.insert(*name))
        .map(str::to_owned)
        .collect()
}

/// How many tasks of each kind, for the audit entry.
fn kind_counts(tasks: &[NewTask]) -> serde_json::Map<String, serde_json::Value> {
    let mut counts = serde_json::Map::new();
    for kind in TargetKind::ALL {
        let count = tasks.iter().filter(|task| task.kind == kind).count();
        if count > 0 {
            counts.insert(kind.as_str().to_owned(), count.into());
        }
    }
    counts
}

/// Marks the targets the store refused (`verdicts`, per task of the batch: `None` accepted).
pub(crate) fn apply_refusals(prepared: &mut Prepared, verdicts: &[Option<StoreRefusal>]) {
    for (task_index, refusal) in verdicts.iter().enumerate() {
        if let Some(refusal) = refusal {
            let verdict = &mut prepared.verdicts[prepared.task_verdicts[task_index]];
            verdict.result = Err(match refusal {
                StoreRefusal::RepeatRunning => Refusal::StillRunning,
                StoreRefusal::OverQuota => Refusal::OverQuota,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_keeps_the_first_of_identical_targets() {
        let targets = vec![
            (TargetKind::Url, "http://a.com/x".to_owned()),
            (TargetKind::Url, " http://a.com/x ".to_owned()),
            (TargetKind::Prefix, "http://a.com/x".to_owned()),
            (TargetKind::Url, "http://a.com/y".to_owned()),
        ];
        let deduped = dedupe(targets);
        assert_eq!(deduped.len(), 3);
        assert_eq!(deduped[0], (TargetKind::Url, "http://a.com/x".to_owned()));
        assert_eq!(deduped[2].1, "http://a.com/y");
    }

    #[test]
    fn exact_domains_win_over_wildcards() {
        let domains = vec![
            (1, DomainName::parse("*.a.com").unwrap()),
            (2, DomainName::parse("www.a.com").unwrap()),
        ];
        assert_eq!(domain_for(&domains, "www.a.com"), Some(2));
        assert_eq!(domain_for(&domains, "img.a.com"), Some(1));
        assert_eq!(domain_for(&domains, "a.com"), None);
        assert_eq!(domain_for(&domains, "b.com"), None);
    }
}
