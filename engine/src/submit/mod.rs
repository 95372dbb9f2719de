//! Accepting a submission: what comes in, what goes out, and why a target or a whole
//! submission is refused. How a submission is checked and turned into a batch is in `prepare`.

mod prepare;

pub(crate) use self::prepare::{apply_refusals, prepare, Prepared};
pub use self::prepare::{check_lines, dedupe, domain_for, LineCheck};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::{BatchId, TaskId};
use crate::key_scope::KeyScope;
use crate::quota::QuotaUsage;
use crate::store::StoreError;
use crate::target::{PurgeMode, TargetKind};
use crate::tasks::{TaskRecord, TaskStatus};
use crate::time::QuotaDay;
use crate::users::QuotaLimits;

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
    /// After each node confirms a URL's purge, fetch the URL through it and fail it as `stale`
    /// when its `Age` is older than the purge (URLs only; not with invalidation).
    pub verify: bool,
    /// After each node confirms a URL's purge, fetch the URL through it (URLs only).
    pub prefetch_after: bool,
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
    /// That key's limits (none for the dashboard).
    pub key_scope: KeyScope,
}

impl Submission {
    /// `targets` from `source`, deleted on every group, without callback, keys or client ids.
    pub fn new(source: Source, targets: Vec<(TargetKind, String)>) -> Self {
        Self {
            targets,
            domain: None,
            mode: PurgeMode::Delete,
            groups: Vec::new(),
            verify: false,
            prefetch_after: false,
            callback_url: None,
            idempotency_key: None,
            client_task_id: None,
            source,
            api_key_id: None,
            key_scope: KeyScope::default(),
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
    /// The API key is read-only, or may purge none of the kinds asked for.
    #[error("this API key may not purge this: {0}")]
    KeyNotAllowed(String),
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
    /// Verification or prefetch after the purge asked for targets that are not exact URLs.
    #[error("verify and prefetch after the purge apply to exact URLs only")]
    FollowUpNeedsUrls,
    /// Verification asked for with invalidation, which serves stale objects on purpose.
    #[error("verify needs mode delete: an invalidated object is served stale on purpose")]
    VerifyNeedsDelete,
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
    /// The API key may not purge this kind of target (others of the request it may).
    KindNotAllowed,
}

impl Refusal {
    /// The stable code clients see (v1's `code`, the dashboard's verdicts, `/metrics`).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Invalid(_) => "invalid_target",
            Refusal::NotYourDomain => "not_your_domain",
            Refusal::StillRunning => "still_running",
            Refusal::OverQuota => "over_quota",
            Refusal::KindNotAllowed => "kind_not_allowed",
        }
    }

    /// What a person reads: the parser's reason for an invalid target, a fixed sentence otherwise.
    pub fn message(&self) -> String {
        match self {
            Refusal::Invalid(reason) => reason.clone(),
            Refusal::NotYourDomain => "the host is not one of your domains".to_owned(),
            Refusal::StillRunning => "the same regex is still running".to_owned(),
            Refusal::OverQuota => "today's quota for this kind is used up".to_owned(),
            Refusal::KindNotAllowed => "this API key may not purge this kind of target".to_owned(),
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
    pub(super) fn new(id: TaskId, created_at: DateTime<Utc>) -> Self {
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
    /// What the submitter should know: edges of a domain that cannot express an accepted kind
    /// of target (they will report `unsupported`).
    pub warnings: Vec<String>,
}

impl SubmitOutcome {
    /// The accepted task ids.
    pub fn accepted(&self) -> impl Iterator<Item = &TaskId> {
        self.verdicts
            .iter()
            .filter_map(|v| v.result.as_ref().ok().map(|task| &task.id))
    }
}
