//! Wire types between the server functions and the pages.

use serde::{Deserialize, Serialize};

/// The signed-in user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// Login name.
    pub username: String,
    /// Whether the admin pages are open.
    pub is_admin: bool,
    /// Preferred time zone.
    pub time_zone: String,
}

/// One kind's quota today.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindQuota {
    /// `url`, `prefix` or `regex`.
    pub kind: String,
    /// Daily limit.
    pub limit: u32,
    /// Used today.
    pub used: u32,
    /// Left today.
    pub left: u32,
}

/// Today's quota.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaSummary {
    /// Per kind.
    pub kinds: Vec<KindQuota>,
    /// The quota day in the user's zone.
    pub window: String,
    /// Targets per request.
    pub per_request: u32,
}

/// A task in lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRow {
    /// Id.
    pub id: String,
    /// Batch id.
    pub batch_id: String,
    /// Owner.
    pub username: String,
    /// `url`, `prefix` or `regex`.
    pub kind: String,
    /// The target.
    pub target: String,
    /// Status.
    pub status: String,
    /// Nodes.
    pub total: u32,
    /// Confirmed.
    pub success: u32,
    /// Failed.
    pub failed: u32,
    /// Accepted at, in the user's zone.
    pub created_at: String,
    /// Started at.
    pub started_at: Option<String>,
    /// Finished at.
    pub finished_at: Option<String>,
    /// Keyset cursor.
    pub seq: i64,
}

/// A task's failed nodes for one reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureGroup {
    /// The reason key.
    pub reason: String,
    /// The nodes, with attempts and detail.
    pub nodes: Vec<(String, u32, String)>,
}

/// A task with its per-node results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDetail {
    /// The task.
    pub task: TaskRow,
    /// Confirmed nodes.
    pub success_ips: Vec<String>,
    /// Failures grouped by reason.
    pub failures: Vec<FailureGroup>,
}

/// The verdict on one line of the purge form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineVerdict {
    /// `url`, `prefix` or `regex`.
    pub kind: String,
    /// The line.
    pub target: String,
    /// Accepted / valid.
    pub ok: bool,
    /// A refusal code, when refused.
    pub code: Option<String>,
    /// The domain it hits, or why it is refused.
    pub message: String,
    /// The task created for it.
    pub task_id: Option<String>,
}

/// The result of a purge submission from the dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitResult {
    /// The batch, when something was accepted.
    pub batch_id: Option<String>,
    /// Per line.
    pub verdicts: Vec<LineVerdict>,
}

/// An API key in lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRow {
    /// Public id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Created at.
    pub created_at: String,
    /// Last used at.
    pub last_used_at: Option<String>,
    /// Revoked at.
    pub revoked_at: Option<String>,
}

/// A key just created: the secret is shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKey {
    /// Public id.
    pub id: String,
    /// The secret.
    pub key: String,
}

/// A user in the admin list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    /// Login name.
    pub username: String,
    /// `admin` or `developer`.
    pub role: String,
    /// Enabled.
    pub enabled: bool,
    /// May purge.
    pub can_purge: bool,
    /// Limits: url, prefix, regex, per request.
    pub limits: (u32, u32, u32, u32),
    /// Usage of the last 30 days: (day, url + prefix + regex).
    pub usage: Vec<(String, u32)>,
}

/// A domain in the admin list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRow {
    /// Host.
    pub host: String,
    /// Users.
    pub users: Vec<String>,
    /// Groups.
    pub groups: Vec<String>,
}

/// A node in the admin list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRow {
    /// Id.
    pub id: i64,
    /// `ip:port`.
    pub addr: String,
    /// Enabled.
    pub enabled: bool,
    /// Recent results: last success and failure rate, or "no recent purge".
    pub health: String,
    /// More than half of the recent requests failed.
    pub unhealthy: bool,
}

/// A group in the admin list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    /// Name.
    pub name: String,
    /// Protocol preset.
    pub protocol: String,
    /// Nodes.
    pub nodes: Vec<NodeRow>,
}

/// An audit row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// Id (cursor).
    pub id: i64,
    /// When, in the user's zone.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// Details (JSON).
    pub detail: String,
}
