//! Turning SQLite rows into engine types.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::ids::{BatchId, TaskId};
use crate::store::{ApiKeyInfo, StoreError};
use crate::target::TargetKind;
use crate::tasks::{TaskRecord, TaskStatus};
use crate::time::from_millis;
use crate::users::{QuotaOverrides, Role, User, UserId};

/// The columns [`user`] reads, for `SELECT`s.
pub(super) const USER_COLUMNS: &str = "u.id, u.username, u.role, u.enabled, u.can_purge, \
    u.time_zone, u.quota_url, u.quota_prefix, u.quota_regex, u.quota_batch";

/// The columns [`task`] reads, for `SELECT`s.
pub(super) const TASK_COLUMNS: &str = "t.seq, t.id, t.batch_id, t.user_id, t.domain_id, t.kind, \
    t.target, t.client_task_id, t.status, t.node_set_id, t.total, t.success, t.failed, \
    t.created_at, t.started_at, t.finished_at, t.callback_url";

/// The columns [`api_key`] reads, for `SELECT`s.
pub(super) const KEY_COLUMNS: &str =
    "k.id, k.user_id, k.public_id, k.label, k.created_at, k.last_used_at, k.revoked_at";

fn corrupt(what: &str, value: impl std::fmt::Debug) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

fn quota(row: &SqliteRow, column: &str) -> Result<Option<u32>, StoreError> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(|v| v.clamp(0, u32::MAX as i64) as u32))
}

pub(super) fn user(row: &SqliteRow) -> Result<User, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: UserId(row.try_get("id")?),
        username: row.try_get("username")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        enabled: row.try_get("enabled")?,
        can_purge: row.try_get("can_purge")?,
        time_zone: row.try_get("time_zone")?,
        quota: QuotaOverrides {
            url: quota(row, "quota_url")?,
            prefix: quota(row, "quota_prefix")?,
            regex: quota(row, "quota_regex")?,
            batch: quota(row, "quota_batch")?,
        },
    })
}

pub(super) fn task(row: &SqliteRow) -> Result<TaskRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let batch_id: String = row.try_get("batch_id")?;
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let count = |column: &str| -> Result<u32, StoreError> {
        Ok(row.try_get::<i64, _>(column)?.clamp(0, u32::MAX as i64) as u32)
    };
    Ok(TaskRecord {
        id: TaskId::parse(&id).ok_or_else(|| corrupt("task id", &id))?,
        seq: row.try_get("seq")?,
        batch_id: BatchId::parse(&batch_id).ok_or_else(|| corrupt("batch id", &batch_id))?,
        user_id: UserId(row.try_get("user_id")?),
        domain_id: row.try_get("domain_id")?,
        kind: TargetKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        target: row.try_get("target")?,
        client_task_id: row.try_get("client_task_id")?,
        status: TaskStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        node_set_id: row.try_get("node_set_id")?,
        total: count("total")?,
        success: count("success")?,
        failed: count("failed")?,
        created_at: from_millis(row.try_get("created_at")?),
        started_at: row
            .try_get::<Option<i64>, _>("started_at")?
            .map(from_millis),
        finished_at: row
            .try_get::<Option<i64>, _>("finished_at")?
            .map(from_millis),
        callback_url: row.try_get("callback_url")?,
    })
}

pub(super) fn api_key(row: &SqliteRow) -> Result<ApiKeyInfo, StoreError> {
    Ok(ApiKeyInfo {
        id: row.try_get("id")?,
        user_id: UserId(row.try_get("user_id")?),
        public_id: row.try_get("public_id")?,
        label: row.try_get("label")?,
        created_at: from_millis(row.try_get("created_at")?),
        last_used_at: row
            .try_get::<Option<i64>, _>("last_used_at")?
            .map(from_millis),
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at")?
            .map(from_millis),
    })
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`] naming `what`.
pub(super) fn conflict(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    let what = what.into();
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Query(error),
    }
}
