//! Wire types between the server functions and the pages.

use serde::{Deserialize, Serialize};

/// The signed-in user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// Login name.
    pub username: String,
    /// Whether the admin pages are open.
    pub is_admin: bool,
}

#[cfg(feature = "ssr")]
impl From<&engine::users::User> for SessionUser {
    fn from(user: &engine::users::User) -> Self {
        Self {
            username: user.username.clone(),
            is_admin: user.role == engine::users::Role::Admin,
        }
    }
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
    /// `url`, `prefix`, `regex`, `tag` or `everything`.
    pub kind: String,
    /// The target (a tag's name; `*` for everything).
    pub target: String,
    /// The host whose cache it purges.
    pub domain: String,
    /// `delete` or `invalidate`.
    pub mode: String,
    /// The edge groups it goes to; empty for all.
    pub groups: Vec<String>,
    /// Each node's purge is verified by fetching the URL through it.
    pub verify: bool,
    /// The URL is fetched through each node after its purge.
    pub prefetch_after: bool,
    /// Confirmed nodes whose answer had no `Age` to verify.
    pub unverified: u32,
    /// Nodes that fetched the URL again after the purge.
    pub prefetched: u32,
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

impl TaskRow {
    /// Kind, mode and groups in a few words of `t`'s language: `tag · invalidate · groups
    /// east, west` (group names as they are).
    pub fn describe(&self, t: &crate::i18n::Texts) -> String {
        let mut text = t.kind(&self.kind).to_owned();
        if self.mode == "invalidate" {
            text.push_str(" · ");
            text.push_str(t.mode_invalidate_word);
        }
        if self.verify {
            text.push_str(" · ");
            text.push_str(t.describe_verified);
        }
        if self.prefetch_after {
            text.push_str(" · ");
            text.push_str(t.describe_prefetched);
        }
        if !self.groups.is_empty() {
            text.push_str(" · ");
            text.push_str(t.describe_groups);
            text.push(' ');
            text.push_str(&self.groups.join(", "));
        }
        text
    }
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
    /// Confirmed nodes whose purge could not be verified (no `Age`).
    pub unverified_ips: Vec<String>,
    /// Confirmed nodes whose warming fetch failed.
    pub unprefetched_ips: Vec<String>,
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
    /// Edges that cannot express an accepted kind of target (they will report `unsupported`).
    pub warnings: Vec<String>,
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
    /// Only these domains; `None`: all of the user's.
    pub domains: Option<Vec<String>>,
    /// Only these purge kinds (their API names); `None`: every kind.
    pub kinds: Option<Vec<String>>,
    /// Status and history only.
    pub read_only: bool,
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
    /// Limits per day and per request.
    pub limits: LimitsRow,
    /// Usage of the last 30 days: (day, targets of every kind).
    pub usage: Vec<(String, u32)>,
}

/// What the purge form sends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeForm {
    /// Exact URLs, one per line.
    pub urls: String,
    /// Prefixes, one per line.
    pub prefixes: String,
    /// Regexes, one per line.
    pub regexes: String,
    /// Cache tags of `domain`, one per line.
    pub tags: String,
    /// The host tags and everything are on.
    pub domain: String,
    /// Purge every object of `domain` (the boxes are then empty).
    pub everything: bool,
    /// `delete` or `invalidate` (empty: delete).
    pub mode: String,
    /// Edge group names separated by commas (empty: every group).
    pub groups: String,
    /// Verify each node's URL purge by fetching the URL through it.
    pub verify: bool,
    /// Fetch each URL through each node after its purge.
    pub prefetch_after: bool,
}

/// What the purge form offers: the user's domains and the edge groups serving each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainGroups {
    /// `(domain, its groups)`, by domain.
    pub domains: Vec<(String, Vec<String>)>,
}

impl DomainGroups {
    /// Every group serving one of the domains, each once, sorted.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self
            .domains
            .iter()
            .flat_map(|(_, groups)| groups.iter().cloned())
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }
}

/// The quota form's fields as typed (empty: the default).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuotaFields {
    /// Exact URLs per day.
    pub url: String,
    /// Prefixes per day.
    pub prefix: String,
    /// Regexes per day.
    pub regex: String,
    /// Cache tags per day.
    pub tag: String,
    /// Everything-on-a-domain purges per day.
    pub everything: String,
    /// Prefetched URLs per day.
    pub prefetch: String,
    /// Targets per request.
    pub batch: String,
}

/// A user's limits: per day and kind, and per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsRow {
    /// Exact URLs per day.
    pub url: u32,
    /// Prefixes per day.
    pub prefix: u32,
    /// Regexes per day.
    pub regex: u32,
    /// Cache tags per day.
    pub tag: u32,
    /// Everything-on-a-domain purges per day.
    pub everything: u32,
    /// Prefetched URLs per day.
    pub prefetch: u32,
    /// Targets per request.
    pub batch: u32,
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

/// A node on the edges page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRow {
    /// Id.
    pub id: i64,
    /// `ip:port`.
    pub addr: String,
    /// Enabled.
    pub enabled: bool,
    /// `healthy`, `degraded`, `failing`, `disabled` or `never_purged`.
    pub state: String,
    /// When it last confirmed a purge, in the admin's zone.
    pub last_success: Option<String>,
    /// Failed share of its recent requests, in percent (none without recent requests).
    pub failed_percent: Option<u32>,
    /// Its recent requests (at most 64).
    pub recent: u32,
}

/// An edge group's nodes on one page of the edges page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    /// Name.
    pub name: String,
    /// Protocol preset.
    pub protocol: String,
    /// Its nodes on this page.
    pub nodes: Vec<NodeRow>,
}

/// One page of the fleet: counts per state, and the matching nodes by group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetView {
    /// `(state, nodes)` for every state, of the nodes the search matches.
    pub counts: Vec<(String, usize)>,
    /// Nodes the search and the state filter match.
    pub matching: usize,
    /// Every node.
    pub total: usize,
    /// This page, from 0.
    pub page: usize,
    /// Pages (at least 1).
    pub pages: usize,
    /// This page's nodes by group.
    pub groups: Vec<GroupRow>,
}

/// How many nodes were in each health state, every 10 minutes of the last 24 hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetHistory {
    /// The states, in the order of each sample's counts.
    pub states: Vec<String>,
    /// `(time HH:MM in the admin's zone, nodes per state)`, oldest first.
    pub samples: Vec<(String, Vec<u32>)>,
}

/// A node's recent results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeDetail {
    /// Id.
    pub id: i64,
    /// `ip:port`.
    pub addr: String,
    /// When it last confirmed a purge, in the admin's zone.
    pub last_success: Option<String>,
    /// When it last failed, and the reason key (`503`, `timeout`…).
    pub last_failure: Option<(String, String)>,
    /// Recent outcomes, newest first: `true` for a failure.
    pub outcomes: Vec<bool>,
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

/// The overview's charts over the last 30 days.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartData {
    /// The figures are everyone's (an admin), not only the user's.
    pub everyone: bool,
    /// Quota days (`MM-DD`, the service's zone), oldest first.
    pub days: Vec<String>,
    /// `(kind, targets per day)` for every kind, each in `days`' order.
    pub kinds: Vec<(String, Vec<u32>)>,
    /// Days of the user's zone (`MM-DD`) with the tasks created then that succeeded and failed.
    pub outcomes: Vec<(String, u64, u64)>,
}
