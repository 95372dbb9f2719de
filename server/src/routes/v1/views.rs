//! The JSON shapes of v1, documented in the OpenAPI document.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Utc};
use engine::report::TaskReport;
use engine::submit::TargetVerdict;
use engine::target::{PurgeMode, TargetKind};
use engine::tasks::{TaskRecord, TaskStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A purge submission.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PurgeRequest {
    /// Exact URLs.
    pub urls: Vec<String>,
    /// URL prefixes (path ending in `/` or `*`).
    pub prefixes: Vec<String>,
    /// URL regexes (`http://host/` literal, then a path regex).
    pub regexes: Vec<String>,
    /// A host of the caller: where `tags` and `everything` purge (required with them).
    pub domain: Option<String>,
    /// Cache tags of `domain` (1–128 visible ASCII characters without spaces or commas), one
    /// task each.
    pub tags: Vec<String>,
    /// Purge every object of `domain` (one task).
    pub everything: bool,
    /// `delete` (the default) or `invalidate`: objects become stale and are refetched, served
    /// stale meanwhile where the edge allows it. For every target of the request.
    pub mode: Option<PurgeModeName>,
    /// Names of edge groups of the targets' domains: the tasks go only to their nodes (all
    /// groups when absent). An unknown group refuses the request (`unknown_group`).
    pub groups: Vec<String>,
    /// URLs only: after a node confirms the purge, fetch the URL through it and read `Age`; an
    /// object older than the purge fails that node as `stale`; an answer without `Age` leaves it
    /// confirmed and unverified. Refused with `"mode": "invalidate"` (`verify_needs_delete`).
    pub verify: bool,
    /// URLs only: after a node confirms the purge, fetch the URL through it, so that the first
    /// visitor gets a HIT.
    pub prefetch: bool,
    /// Where each task's result is posted when it ends (at most 2000 characters).
    #[schema(max_length = 2000)]
    pub callback_url: Option<String>,
    /// Sending the same key again returns the earlier batch instead of purging twice.
    pub idempotency_key: Option<String>,
}

/// A prefetch: URLs fetched through every edge of their domains (or of `groups`), so that the
/// first visitor gets a HIT.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PrefetchRequest {
    /// Exact URLs.
    pub urls: Vec<String>,
    /// Names of edge groups of the URLs' domains: only their nodes fetch (all groups when
    /// absent). An unknown group refuses the request (`unknown_group`).
    pub groups: Vec<String>,
    /// Where each task's result is posted when it ends (at most 2000 characters).
    #[schema(max_length = 2000)]
    pub callback_url: Option<String>,
    /// Sending the same key again returns the earlier batch instead of prefetching twice.
    pub idempotency_key: Option<String>,
}

/// `delete` or `invalidate`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PurgeModeName {
    /// Remove the objects.
    Delete,
    /// Mark them stale.
    Invalidate,
}

impl From<PurgeModeName> for PurgeMode {
    fn from(mode: PurgeModeName) -> Self {
        match mode {
            PurgeModeName::Delete => PurgeMode::Delete,
            PurgeModeName::Invalidate => PurgeMode::Invalidate,
        }
    }
}

/// A task's status, as filters name it.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatusName {
    /// Waiting for a worker.
    Created,
    /// Being fanned out.
    Running,
    /// Every node confirmed.
    Success,
    /// At least one node failed.
    Failed,
}

impl From<TaskStatusName> for TaskStatus {
    fn from(status: TaskStatusName) -> Self {
        match status {
            TaskStatusName::Created => TaskStatus::Created,
            TaskStatusName::Running => TaskStatus::Running,
            TaskStatusName::Success => TaskStatus::Success,
            TaskStatusName::Failed => TaskStatus::Failed,
        }
    }
}

/// A purge kind, as filters and key limits name it.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KindName {
    /// Exact URLs.
    Url,
    /// URL prefixes.
    Prefix,
    /// URL regexes.
    Regex,
    /// Cache tags.
    Tag,
    /// Everything on a domain.
    Everything,
    /// Prefetched URLs.
    Prefetch,
}

impl From<KindName> for TargetKind {
    fn from(kind: KindName) -> Self {
        match kind {
            KindName::Url => TargetKind::Url,
            KindName::Prefix => TargetKind::Prefix,
            KindName::Regex => TargetKind::Regex,
            KindName::Tag => TargetKind::Tag,
            KindName::Everything => TargetKind::Everything,
            KindName::Prefetch => TargetKind::Prefetch,
        }
    }
}

impl From<TargetKind> for KindName {
    fn from(kind: TargetKind) -> Self {
        match kind {
            TargetKind::Url => KindName::Url,
            TargetKind::Prefix => KindName::Prefix,
            TargetKind::Regex => KindName::Regex,
            TargetKind::Tag => KindName::Tag,
            TargetKind::Everything => KindName::Everything,
            TargetKind::Prefetch => KindName::Prefetch,
        }
    }
}

/// A target that became a task.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedTarget {
    /// `url`, `prefix`, `regex`, `tag`, `everything` or `prefetch`.
    pub kind: String,
    /// The target.
    pub target: String,
    /// Its task.
    pub task_id: String,
}

/// A target that was refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedTarget {
    /// `url`, `prefix`, `regex`, `tag`, `everything` or `prefetch`.
    pub kind: String,
    /// The target.
    pub target: String,
    /// `invalid_target`, `not_your_domain`, `still_running`, `over_quota` or
    /// `kind_not_allowed` (the key may not purge this kind).
    pub code: &'static str,
    /// Why.
    pub message: String,
}

/// One kind's quota today.
#[derive(Debug, Serialize, ToSchema)]
pub struct KindQuota {
    /// Daily limit.
    pub limit: u32,
    /// Used today.
    pub used: u32,
    /// Left today.
    pub left: u32,
}

/// Today's quota in the caller's zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    /// Exact URLs.
    pub url: KindQuota,
    /// Prefixes.
    pub prefix: KindQuota,
    /// Regexes.
    pub regex: KindQuota,
    /// Cache tags.
    pub tag: KindQuota,
    /// Everything on a domain.
    pub everything: KindQuota,
    /// Prefetched URLs.
    pub prefetch: KindQuota,
    /// Targets per request.
    pub per_request: u32,
    /// First instant of the quota day.
    #[schema(value_type = String, format = DateTime)]
    pub window_start: DateTime<FixedOffset>,
    /// Last second of the quota day.
    #[schema(value_type = String, format = DateTime)]
    pub window_end: DateTime<FixedOffset>,
}

/// The answer to a submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurgeResponse {
    /// The batch, when something was accepted.
    pub batch_id: Option<String>,
    /// True when the idempotency key matched an earlier submission.
    pub replayed: bool,
    /// Targets that became tasks.
    pub accepted: Vec<AcceptedTarget>,
    /// Targets refused, each with its code.
    pub refused: Vec<RefusedTarget>,
    /// What to know about the accepted ones: edges that cannot express a kind of target (such as
    /// nginx for cache tags) and will report `unsupported`.
    pub warnings: Vec<String>,
    /// The quota after this submission.
    pub quota: QuotaView,
}

/// A task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    /// Id (32 hex characters).
    pub id: String,
    /// Its batch.
    pub batch_id: String,
    /// `url`, `prefix`, `regex`, `tag`, `everything` or `prefetch`.
    pub kind: String,
    /// The target: a URL, prefix or regex, a tag's name, or `*` for everything.
    pub target: String,
    /// The host whose cache the task purges.
    pub domain: String,
    /// `delete` or `invalidate`.
    pub mode: String,
    /// The edge groups it goes to; empty for every group of its domain.
    pub groups: Vec<String>,
    /// Whether each node's purge is verified by fetching the URL through it.
    pub verify: bool,
    /// Whether the URL is fetched through each node after its purge.
    pub prefetch: bool,
    /// `created`, `running`, `success` or `failed`.
    pub status: String,
    /// Nodes in the task.
    pub total: u32,
    /// Nodes confirmed.
    pub success: u32,
    /// Nodes failed.
    pub failed: u32,
    /// Confirmed nodes whose answer had no `Age`, so that their purge could not be verified.
    pub unverified: u32,
    /// Nodes that fetched the URL again after the purge.
    pub prefetched: u32,
    /// Accepted at.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Started at.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<DateTime<Utc>>,
    /// Finished at.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<&TaskRecord> for TaskView {
    fn from(task: &TaskRecord) -> Self {
        Self {
            id: task.id.to_string(),
            batch_id: task.batch_id.to_string(),
            kind: task.kind.as_str().to_owned(),
            target: task.target.clone(),
            domain: task.host(),
            mode: task.mode.as_str().to_owned(),
            groups: task.groups.clone(),
            verify: task.verify,
            prefetch: task.prefetch_after,
            status: task.status.as_str().to_owned(),
            total: task.total,
            success: task.success,
            failed: task.failed,
            unverified: task.unverified.len() as u32,
            prefetched: task.prefetched,
            created_at: task.created_at,
            started_at: task.started_at,
            finished_at: task.finished_at,
        }
    }
}

/// A node that failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeFailureView {
    /// `ip`, or `ip:port` when the port is not 80.
    pub node: String,
    /// The reason key (`timeout`, `connect_refused`, `connect_error`, `unsupported`, `stale`, or a status).
    pub reason: String,
    /// Requests sent.
    pub attempts: u32,
    /// Detail.
    pub detail: String,
}

/// A task with its per-node results.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskDetail {
    /// The task.
    #[serde(flatten)]
    pub task: TaskView,
    /// Confirmed nodes.
    pub success_ips: Vec<String>,
    /// Failed nodes.
    pub failed_ips: Vec<String>,
    /// Confirmed nodes whose purge could not be verified (no `Age`).
    pub unverified_ips: Vec<String>,
    /// Confirmed nodes whose warming fetch after the purge failed.
    pub unprefetched_ips: Vec<String>,
    /// Reason → failed nodes.
    pub failed_status: BTreeMap<String, Vec<String>>,
    /// Each failure.
    pub failures: Vec<NodeFailureView>,
}

impl From<TaskReport> for TaskDetail {
    fn from(report: TaskReport) -> Self {
        Self {
            task: TaskView::from(&report.task),
            success_ips: report.success_ips,
            failed_ips: report.failed_ips,
            unverified_ips: report.unverified_ips,
            unprefetched_ips: report.unprefetched_ips,
            failed_status: report.failed_status,
            failures: report
                .failures
                .into_iter()
                .map(|(node, failure)| NodeFailureView {
                    node,
                    reason: failure.reason.0,
                    attempts: failure.attempts,
                    detail: failure.detail,
                })
                .collect(),
        }
    }
}

/// A batch and its tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchView {
    /// Id (the seed's `itemId`).
    pub id: String,
    /// Its tasks.
    pub tasks: Vec<TaskView>,
}

/// A page of tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPage {
    /// Tasks, newest first.
    pub tasks: Vec<TaskView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The result of a retry.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryResponse {
    /// The task.
    pub task_id: String,
    /// Whether failed nodes were put back to work.
    pub requeued: bool,
}

/// Splits verdicts into accepted and refused views.
pub fn verdict_views(verdicts: &[TargetVerdict]) -> (Vec<AcceptedTarget>, Vec<RefusedTarget>) {
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for verdict in verdicts {
        let kind = verdict.kind.as_str().to_owned();
        match &verdict.result {
            Ok(task) => accepted.push(AcceptedTarget {
                kind,
                target: verdict.target.clone(),
                task_id: task.id.to_string(),
            }),
            Err(refusal) => {
                refused.push(RefusedTarget {
                    kind,
                    target: verdict.target.clone(),
                    code: refusal.code(),
                    message: refusal.message(),
                });
            }
        }
    }
    (accepted, refused)
}
