//! Turning rows of either backend into engine types.
//!
//! Both schemas use the same column names and compatible types (64-bit integers, text, bytes,
//! booleans), so one set of decoders serves both through the small [`Columns`] trait.

use std::collections::BTreeMap;

pub(super) use super::columns::Columns;
use crate::fleet::{EdgeGroup, EdgeNode, GroupId, NodeId, NodeTarget, Protocol};
use crate::ids::{BatchId, TaskId};
use crate::key_scope::KeyScope;
use crate::quota::QuotaUsage;
use crate::store::claim::Picked;
use crate::store::{
    ApiKeyInfo, AuditEntry, BatchRecord, CallbackOutcome, DomainInfo, DueCallback, GroupWithNodes,
    ImportCounts, NewBatch, NodeSet, StoreError,
};
use crate::target::{DomainName, PurgeMode, TargetKind};
use crate::tasks::{FailureReason, NodeFailure, TaskRecord, TaskStatus};
use crate::time::from_millis;
use crate::users::{QuotaOverrides, Role, User, UserId};

/// The columns [`user`] reads, for `SELECT`s.
pub(super) const USER_COLUMNS: &str = "u.id, u.username, u.role, u.enabled, u.can_purge, \
    u.time_zone, u.quota_url, u.quota_prefix, u.quota_regex, u.quota_batch, u.quota_tag, \
    u.quota_everything, u.quota_prefetch, u.locale";

/// The columns [`task`] reads, for `SELECT`s (the callback URL is the batch's, stored once).
pub(super) const TASK_COLUMNS: &str = "t.seq, t.id, t.batch_id, t.user_id, t.domain_id, t.kind, \
    t.target, t.client_task_id, t.status, t.node_set_id, t.total, t.success, t.failed, \
    t.created_at, t.started_at, t.finished_at, t.host, t.mode, t.groups, t.verify, \
    t.prefetch_after, t.unverified, t.unprefetched, t.prefetched, \
    (SELECT b.callback_url FROM batches b WHERE b.id = t.batch_id) AS callback_url";

/// A recursive common table expression, `waiting (user_id)`: the users with tasks waiting to be
/// claimed, found by skipping through the partial index `tasks_waiting`, one seek per user (and
/// a last row of NULL). Plain SQL that SQLite and PostgreSQL read alike; follow `WITH RECURSIVE`.
pub(super) const WAITING_USERS: &str = "waiting (user_id) AS (
            SELECT MIN(user_id) FROM tasks WHERE status = 'created'
            UNION ALL
            SELECT (SELECT MIN(t.user_id) FROM tasks t WHERE t.status = 'created' AND t.user_id > w.user_id)
            FROM waiting w WHERE w.user_id IS NOT NULL
         )";

/// The columns [`api_key`] reads, for `SELECT`s.
pub(super) const KEY_COLUMNS: &str =
    "k.id, k.user_id, k.public_id, k.label, k.created_at, k.last_used_at, k.revoked_at, k.scope";

fn corrupt(what: &str, value: impl std::fmt::Debug) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

fn clamp_u32(value: i64) -> u32 {
    value.clamp(0, i64::from(u32::MAX)) as u32
}

fn quota(row: &impl Columns, column: &str) -> Result<Option<u32>, StoreError> {
    Ok(row.opt_int(column)?.map(clamp_u32))
}

/// A user from [`USER_COLUMNS`].
pub(super) fn user(row: &impl Columns) -> Result<User, StoreError> {
    let role = row.text("role")?;
    Ok(User {
        id: UserId(row.int("id")?),
        username: row.text("username")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        enabled: row.flag("enabled")?,
        can_purge: row.flag("can_purge")?,
        time_zone: row.text("time_zone")?,
        locale: row.opt_text("locale")?,
        quota: QuotaOverrides {
            url: quota(row, "quota_url")?,
            prefix: quota(row, "quota_prefix")?,
            regex: quota(row, "quota_regex")?,
            tag: quota(row, "quota_tag")?,
            everything: quota(row, "quota_everything")?,
            prefetch: quota(row, "quota_prefetch")?,
            batch: quota(row, "quota_batch")?,
        },
    })
}

/// A user from [`USER_COLUMNS`] and `password_hash`.
pub(super) fn user_with_password(row: &impl Columns) -> Result<(User, Option<String>), StoreError> {
    Ok((user(row)?, row.opt_text("password_hash")?))
}

/// A task from [`TASK_COLUMNS`].
pub(super) fn task(row: &impl Columns) -> Result<TaskRecord, StoreError> {
    let id = row.text("id")?;
    let batch_id = row.text("batch_id")?;
    let kind = row.text("kind")?;
    let status = row.text("status")?;
    let mode = row.text("mode")?;
    Ok(TaskRecord {
        id: TaskId::parse(&id).ok_or_else(|| corrupt("task id", &id))?,
        seq: row.int("seq")?,
        batch_id: BatchId::parse(&batch_id).ok_or_else(|| corrupt("batch id", &batch_id))?,
        user_id: UserId(row.int("user_id")?),
        domain_id: row.int("domain_id")?,
        kind: TargetKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        target: row.text("target")?,
        host: row.opt_text("host")?,
        mode: PurgeMode::parse(&mode).ok_or_else(|| corrupt("mode", &mode))?,
        groups: name_list(row.opt_text("groups")?),
        verify: row.flag("verify")?,
        prefetch_after: row.flag("prefetch_after")?,
        unverified: node_indices(row.opt_text("unverified")?.as_deref()),
        unprefetched: node_indices(row.opt_text("unprefetched")?.as_deref()),
        prefetched: clamp_u32(row.int("prefetched")?),
        client_task_id: row.opt_text("client_task_id")?,
        status: TaskStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        node_set_id: row.opt_int("node_set_id")?,
        total: clamp_u32(row.int("total")?),
        success: clamp_u32(row.int("success")?),
        failed: clamp_u32(row.int("failed")?),
        created_at: from_millis(row.int("created_at")?),
        started_at: row.opt_int("started_at")?.map(from_millis),
        finished_at: row.opt_int("finished_at")?.map(from_millis),
        callback_url: row.opt_text("callback_url")?,
    })
}

/// A task picked by a claim: [`TASK_COLUMNS`] and `confirmed`.
pub(super) fn picked(row: &impl Columns) -> Result<Picked, StoreError> {
    Ok(Picked {
        task: task(row)?,
        confirmed: row.opt_bytes("confirmed")?,
    })
}

/// A due callback: [`TASK_COLUMNS`], `api_key_id` and `callback_attempts` (before this one).
pub(super) fn due_callback(row: &impl Columns) -> Result<DueCallback, StoreError> {
    Ok(DueCallback {
        api_key_id: row.opt_int("api_key_id")?,
        attempts: clamp_u32(row.int("callback_attempts")?) + 1,
        task: task(row)?,
    })
}

/// The `callback_state` and `callback_next_at` a delivery attempt leaves.
pub(super) fn callback_state(outcome: CallbackOutcome) -> (&'static str, Option<i64>) {
    match outcome {
        CallbackOutcome::Delivered => ("delivered", None),
        CallbackOutcome::RetryAt(at) => ("pending", Some(crate::time::to_millis(at))),
        CallbackOutcome::GaveUp => ("failed", None),
    }
}

/// A batch from `user_id, source, created_at`.
pub(super) fn batch(id: &BatchId, row: &impl Columns) -> Result<BatchRecord, StoreError> {
    Ok(BatchRecord {
        id: id.clone(),
        user_id: UserId(row.int("user_id")?),
        source: row.text("source")?,
        created_at: from_millis(row.int("created_at")?),
    })
}

/// An API key from [`KEY_COLUMNS`].
pub(super) fn api_key(row: &impl Columns) -> Result<ApiKeyInfo, StoreError> {
    Ok(ApiKeyInfo {
        id: row.int("id")?,
        user_id: UserId(row.int("user_id")?),
        public_id: row.text("public_id")?,
        label: row.text("label")?,
        created_at: from_millis(row.int("created_at")?),
        last_used_at: row.opt_int("last_used_at")?.map(from_millis),
        revoked_at: row.opt_int("revoked_at")?.map(from_millis),
        scope: KeyScope::from_stored(row.opt_text("scope")?.as_deref())
            .map_err(|error| corrupt("key scope", error))?,
    })
}

/// A node failure from `node_index, reason, attempts, detail`.
pub(super) fn failure(row: &impl Columns) -> Result<NodeFailure, StoreError> {
    Ok(NodeFailure {
        node_index: clamp_u32(row.int("node_index")?),
        reason: FailureReason(row.text("reason")?),
        attempts: clamp_u32(row.int("attempts")?),
        detail: row.text("detail")?,
    })
}

/// A key from [`KEY_COLUMNS`] and its sealed secret, `key_sealed`.
pub(super) fn sealed_key(row: &impl Columns) -> Result<(ApiKeyInfo, Vec<u8>), StoreError> {
    Ok((api_key(row)?, row.bytes("key_sealed")?))
}

/// A key with its owner, who must exist.
pub(super) fn key_with_owner(
    key: ApiKeyInfo,
    owner: Option<User>,
) -> Result<(ApiKeyInfo, User), StoreError> {
    let owner = owner.ok_or_else(|| StoreError::NotFound(format!("user {}", key.user_id.0)))?;
    Ok((key, owner))
}

/// An audit entry from `id, at, actor_id, actor, action, subject, detail`.
pub(super) fn audit_entry(row: &impl Columns) -> Result<AuditEntry, StoreError> {
    let detail = row.text("detail")?;
    Ok(AuditEntry {
        id: row.int("id")?,
        at: from_millis(row.int("at")?),
        actor_id: row.opt_int("actor_id")?.map(UserId),
        actor: row.text("actor")?,
        action: row.text("action")?,
        subject: row.text("subject")?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
    })
}

/// An edge group from `id, name, options`.
pub(super) fn group(row: &impl Columns) -> Result<EdgeGroup, StoreError> {
    let options = row.text("options")?;
    Ok(EdgeGroup {
        id: GroupId(row.int("id")?),
        name: row.text("name")?,
        protocol: serde_json::from_str(&options)
            .map_err(|e| StoreError::Corrupt(format!("group protocol {options:?}: {e}")))?,
    })
}

/// A group's protocol as stored in its `options` column.
pub(super) fn protocol_json(protocol: &Protocol) -> Result<String, StoreError> {
    serde_json::to_string(protocol).map_err(|e| StoreError::Corrupt(format!("protocol {e}")))
}

/// Groups from `id, name, options` rows with their nodes from [`node`] rows.
pub(super) fn groups_with_nodes<R: Columns>(
    groups: &[R],
    nodes: &[R],
) -> Result<Vec<GroupWithNodes>, StoreError> {
    let mut by_group: BTreeMap<i64, Vec<EdgeNode>> = BTreeMap::new();
    for row in nodes {
        let node = node(row)?;
        by_group.entry(node.group_id.0).or_default().push(node);
    }
    groups
        .iter()
        .map(|row| {
            let group = group(row)?;
            let nodes = by_group.remove(&group.id.0).unwrap_or_default();
            Ok(GroupWithNodes { group, nodes })
        })
        .collect()
}

/// The counts of an import of `lines` lines that added `added` nodes: every other line updated
/// a node (one already there, or one an earlier line added).
pub(super) fn import_counts(lines: usize, added: i64) -> ImportCounts {
    let added = clamp_u32(added);
    ImportCounts {
        added,
        updated: (lines as u32).saturating_sub(added),
    }
}

fn ip_port(row: &impl Columns) -> Result<(std::net::IpAddr, u16), StoreError> {
    let ip = row.text("ip")?;
    let port = row.int("port")?;
    Ok((
        ip.parse().map_err(|_| corrupt("node ip", &ip))?,
        u16::try_from(port).map_err(|_| corrupt("node port", port))?,
    ))
}

/// An edge node from `id, group_id, ip, port, enabled`.
pub(super) fn node(row: &impl Columns) -> Result<EdgeNode, StoreError> {
    let (ip, port) = ip_port(row)?;
    Ok(EdgeNode {
        id: NodeId(row.int("id")?),
        group_id: GroupId(row.int("group_id")?),
        ip,
        port,
        enabled: row.flag("enabled")?,
    })
}

/// A node to ask, from `id, ip, port, options` (the options of its group).
pub(super) fn node_target(row: &impl Columns) -> Result<NodeTarget, StoreError> {
    let (ip, port) = ip_port(row)?;
    let options = row.text("options")?;
    Ok(NodeTarget {
        node_id: NodeId(row.int("id")?),
        ip,
        port,
        protocol: serde_json::from_str(&options)
            .map_err(|e| StoreError::Corrupt(format!("group protocol {options:?}: {e}")))?,
    })
}

/// The distinct caches of `node_target` rows with a `group_name`, in order: of every row when
/// `groups` is empty, else of the rows of those groups.
pub(super) fn node_targets(
    found: &[impl Columns],
    groups: &[String],
) -> Result<Vec<NodeTarget>, StoreError> {
    let mut nodes = Vec::with_capacity(found.len());
    for row in found {
        if groups.is_empty() || groups.contains(&row.text("group_name")?) {
            nodes.push(node_target(row)?);
        }
    }
    Ok(crate::fleet::distinct_caches(nodes))
}

/// The `callback_state` a new task of `batch` starts in: `waiting` (for its end) when the batch
/// has a callback URL, which is stored once, with the batch; `NULL` when it has none.
pub(super) fn new_callback_state(batch: &NewBatch) -> Option<&'static str> {
    batch.callback_url.as_ref().map(|_| "waiting")
}

/// Node indices as stored in one column: joined with commas, `NULL` when none.
pub(super) fn joined_indices(indices: &[u32]) -> Option<String> {
    (!indices.is_empty()).then(|| {
        indices
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// Node indices from [`joined_indices`] (what does not parse is left out).
fn node_indices(text: Option<&str>) -> Vec<u32> {
    text.unwrap_or("")
        .split(',')
        .filter_map(|index| index.trim().parse().ok())
        .collect()
}

/// A list of names as stored in one column: joined with newlines, `NULL` when empty.
pub(super) fn joined_names(names: &[String]) -> Option<String> {
    (!names.is_empty()).then(|| names.join("\n"))
}

/// A frozen node set from its stored JSON.
pub(super) fn node_set(id: i64, json: &str) -> Result<NodeSet, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("node set {id}: {e}")))
}

/// A domain name read back from the database.
pub(super) fn domain(host: &str) -> Result<DomainName, StoreError> {
    DomainName::parse(host).map_err(|_| corrupt("domain", host))
}

/// Domains from `(id, host)` rows.
pub(super) fn domains(found: Vec<(i64, String)>) -> Result<Vec<(i64, DomainName)>, StoreError> {
    found
        .into_iter()
        .map(|(id, host)| Ok((id, domain(&host)?)))
        .collect()
}

/// A domain with its assignments from `id, host, users, groups` (names joined with newlines).
pub(super) fn domain_info(row: &impl Columns) -> Result<DomainInfo, StoreError> {
    Ok(DomainInfo {
        id: row.int("id")?,
        host: domain(&row.text("host")?)?,
        users: name_list(row.opt_text("users")?),
        groups: name_list(row.opt_text("groups")?),
    })
}

/// Names joined with newlines by the database, sorted.
pub(super) fn name_list(text: Option<String>) -> Vec<String> {
    let mut names: Vec<String> = text
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`] naming `what`.
pub(super) fn conflict(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    let what = what.into();
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Query(error),
    }
}

/// Maps a foreign-key violation to [`StoreError::NotFound`] naming `what`.
pub(super) fn missing(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    let what = what.into();
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound(what),
        _ => StoreError::Query(error),
    }
}

/// Quota use from `(kind, used)` rows.
pub(super) fn usage(found: impl IntoIterator<Item = (String, i64)>) -> QuotaUsage {
    let mut usage = QuotaUsage::default();
    for (kind, used) in found {
        if let Some(kind) = TargetKind::parse(&kind) {
            *usage.get_mut(kind) = clamp_u32(used);
        }
    }
    usage
}

/// Quota use per day from `(day, kind, used)` rows ordered by day.
pub(super) fn usage_by_day(found: Vec<(String, String, i64)>) -> Vec<(String, QuotaUsage)> {
    let mut days: Vec<(String, Vec<(String, i64)>)> = Vec::new();
    for (day, kind, used) in found {
        match days.last_mut() {
            Some((last, kinds)) if *last == day => kinds.push((kind, used)),
            _ => days.push((day, vec![(kind, used)])),
        }
    }
    days.into_iter()
        .map(|(day, kinds)| (day, usage(kinds)))
        .collect()
}

/// Rows of `slot, succeeded, failed` counts as the store answers them.
pub(super) fn slot_outcomes(rows: Vec<(i64, i64, i64)>) -> Vec<(i64, u64, u64)> {
    rows.into_iter()
        .map(|(day, ok, bad)| (day, ok.max(0) as u64, bad.max(0) as u64))
        .collect()
}
