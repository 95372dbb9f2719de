//! Accepting a submission: dedupe, parse, check domains, then write with the quota in one go.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::{BatchId, TaskId};
use crate::quota::QuotaUsage;
use crate::store::{AuditEntry, BatchWrite, NewBatch, NewTask, StoreError, StoreRefusal};
use crate::target::{DomainName, PurgeMode, Target, TargetKind};
use crate::tasks::{TaskRecord, TaskStatus};
use crate::time::QuotaDay;
use crate::users::{QuotaLimits, User};

/// Where a submission came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Source {
    /// Seed 000 URL purge API.
    Api000,
    /// Seed 004 regex purge API.
    Api004,
    /// Native v1 API.
    V1,
    /// The dashboard.
    Dashboard,
}

impl Source {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api000 => "api000",
            Source::Api004 => "api004",
            Source::V1 => "v1",
            Source::Dashboard => "dashboard",
        }
    }
}

/// One submission.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The targets in request order (duplicates are merged).
    pub targets: Vec<(TargetKind, String)>,
    /// The host tag and everything targets are on (required with them).
    pub domain: Option<String>,
    /// Delete or invalidate, for every target.
    pub mode: PurgeMode,
    /// Names of edge groups of the targets' domains: the tasks go only to their nodes (empty:
    /// every group).
    pub groups: Vec<String>,
    /// Where each task's result is posted.
    pub callback_url: Option<String>,
    /// Client idempotency key of the whole batch (v1).
    pub idempotency_key: Option<String>,
    /// Seed 000 `taskId`.
    pub client_task_id: Option<String>,
    /// Where it came from.
    pub source: Source,
    /// The key it was made with.
    pub api_key_id: Option<i64>,
}

impl Submission {
    /// `targets` from `source`, deleted on every group, without callback, keys or client ids.
    pub fn new(source: Source, targets: Vec<(TargetKind, String)>) -> Self {
        Self {
            targets,
            domain: None,
            mode: PurgeMode::Delete,
            groups: Vec::new(),
            callback_url: None,
            idempotency_key: None,
            client_task_id: None,
            source,
            api_key_id: None,
        }
    }
}

/// Why a whole submission was refused (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The user is disabled.
    #[error("user is disabled")]
    UserDisabled,
    /// The user may not purge.
    #[error("user not allowed push")]
    NotAllowed,
    /// No target at all.
    #[error("no target given")]
    Empty,
    /// Tags or everything without the domain they are on.
    #[error("a domain is required with tags and everything")]
    DomainRequired,
    /// The request's domain is not one of the user's.
    #[error("{0} is not one of your domains")]
    NotYourDomain(String),
    /// A named edge group does not exist or does not serve a domain of the request.
    #[error("edge group {group:?} does not serve {domain}")]
    UnknownGroup {
        /// The group named.
        group: String,
        /// The domain it does not serve.
        domain: String,
    },
    /// More edge groups named than any domain has.
    #[error("at most {MAX_GROUPS} edge groups may be named")]
    TooManyGroups,
    /// More targets than one request may carry.
    #[error("you can't submit more than {limit} targets at a time")]
    TooMany {
        /// The per-request limit.
        limit: u32,
    },
    /// The callback URL is refused.
    #[error(transparent)]
    Callback(#[from] crate::callback_target::CallbackUrlError),
    /// A client key (idempotency key or task id) is too long or empty.
    #[error("{0} must be 1 to 128 printable characters")]
    InvalidClientKey(&'static str),
    /// The seed-000 `taskId` was used before for another target.
    #[error("taskId {0} was already used for another uri")]
    ClientTaskConflict(String),
    /// Every CPU slot is taken (regex compilation): try again in a moment.
    #[error(transparent)]
    Busy(#[from] crate::cpu::Busy),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The most edge groups one submission may name.
pub const MAX_GROUPS: usize = 64;

/// Why one target was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", content = "detail")]
pub enum Refusal {
    /// It does not parse (seed 004: InvalidUrlRegular).
    Invalid(String),
    /// Its host is not one of the user's domains (seed 004: ErrorChannel).
    NotYourDomain,
    /// The same regex of the user is still running (seed 004: RepeatUrlRegular).
    StillRunning,
    /// Today's quota is used up (seed 004: NumberOutOfLimit / NumberPartlyOutOfLimit).
    OverQuota,
}

impl Refusal {
    /// The stable code clients see (v1's `code`, the dashboard's verdicts, `/metrics`).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Invalid(_) => "invalid_target",
            Refusal::NotYourDomain => "not_your_domain",
            Refusal::StillRunning => "still_running",
            Refusal::OverQuota => "over_quota",
        }
    }

    /// What a person reads: the parser's reason for an invalid target, a fixed sentence otherwise.
    pub fn message(&self) -> String {
        match self {
            Refusal::Invalid(reason) => reason.clone(),
            Refusal::NotYourDomain => "the host is not one of your domains".to_owned(),
            Refusal::StillRunning => "the same regex is still running".to_owned(),
            Refusal::OverQuota => "today's quota for this kind is used up".to_owned(),
        }
    }
}

/// The task a target became: what an answer needs without reading the task again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AcceptedTask {
    /// The task.
    pub id: TaskId,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// `created` for a task this submission made; the stored status for one it found (a
    /// repeated seed-000 `taskId` or v1 idempotency key).
    pub status: TaskStatus,
}

impl AcceptedTask {
    /// A task this submission creates now.
    fn new(id: TaskId, created_at: DateTime<Utc>) -> Self {
        Self {
            id,
            created_at,
            status: TaskStatus::Created,
        }
    }

    /// A task stored earlier, as it stands.
    pub(crate) fn existing(task: &TaskRecord) -> Self {
        Self {
            id: task.id.clone(),
            created_at: task.created_at,
            status: task.status,
        }
    }
}

/// What happened to one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetVerdict {
    /// Its kind.
    pub kind: TargetKind,
    /// The target as sent (trimmed).
    pub target: String,
    /// The task created (or found) for it, or why it was refused.
    pub result: Result<AcceptedTask, Refusal>,
}

/// The quota as it stands after a submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaSnapshot {
    /// The service-zone day.
    pub day: QuotaDay,
    /// The user's limits.
    pub limits: QuotaLimits,
    /// Used before the submission.
    pub used_before: QuotaUsage,
    /// Used after it.
    pub used: QuotaUsage,
}

impl QuotaSnapshot {
    /// What is left per kind.
    pub fn left(&self) -> QuotaUsage {
        self.used.left(&self.limits)
    }
}

/// The result of a submission that was not refused as a whole.
#[derive(Clone, Debug)]
pub struct SubmitOutcome {
    /// The batch, when at least one target was accepted (or on replay).
    pub batch_id: Option<BatchId>,
    /// True when an idempotency key or task id matched an earlier submission.
    pub replayed: bool,
    /// Per distinct target, in request order.
    pub verdicts: Vec<TargetVerdict>,
    /// The quota after it.
    pub quota: QuotaSnapshot,
}

impl SubmitOutcome {
    /// The accepted task ids.
    pub fn accepted(&self) -> impl Iterator<Item = &TaskId> {
        self.verdicts
            .iter()
            .filter_map(|v| v.result.as_ref().ok().map(|task| &task.id))
    }
}

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
    if submission.groups.len() > MAX_GROUPS {
        return Err(SubmitError::TooManyGroups);
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

/// Applies what the store decided to the verdicts.
pub(crate) fn apply_write(
    prepared: &mut Prepared,
    write: &BatchWrite,
) -> Option<(QuotaUsage, QuotaUsage)> {
    let BatchWrite::Written {
        verdicts,
        used_before,
        used_after,
    } = write
    else {
        return None;
    };
    for (task_index, refusal) in verdicts.iter().enumerate() {
        if let Some(refusal) = refusal {
            let verdict = &mut prepared.verdicts[prepared.task_verdicts[task_index]];
            verdict.result = Err(match refusal {
                StoreRefusal::RepeatRunning => Refusal::StillRunning,
                StoreRefusal::OverQuota => Refusal::OverQuota,
            });
        }
    }
    Some((*used_before, *used_after))
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
