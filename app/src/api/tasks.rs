//! Task history, task detail, batches and retries.

use leptos::prelude::*;

use super::error::AppError;
use crate::models::{TaskDetail, TaskRow};

/// Filters of the history page (all optional, as typed in the form).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TaskListQuery {
    /// Status.
    pub status: String,
    /// Kind.
    pub kind: String,
    /// Domain host.
    pub domain: String,
    /// From date `YYYY-MM-DD` in the user's zone.
    pub from: String,
    /// To date `YYYY-MM-DD` (inclusive) in the user's zone.
    pub to: String,
    /// Text in the target.
    pub text: String,
    /// Keyset cursor: tasks older than this sequence number.
    pub before: Option<i64>,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use engine::store::TaskFilter;
    use engine::target::TargetKind;
    use engine::tasks::{TaskRecord, TaskStatus};
    use engine::time::Zone;
    use engine::users::User;
    use engine::Engine;

    use super::TaskListQuery;
    use crate::api::context::local_time;
    use crate::api::error::AppError;
    use crate::models::TaskRow;

    /// A task as the pages show it.
    pub(crate) fn row(task: &TaskRecord, username: &str, zone: &Zone) -> TaskRow {
        TaskRow {
            id: task.id.to_string(),
            batch_id: task.batch_id.to_string(),
            username: username.to_owned(),
            kind: task.kind.as_str().into(),
            target: task.target.clone(),
            domain: task.host(),
            mode: task.mode.as_str().into(),
            groups: task.groups.clone(),
            verify: task.verify,
            prefetch_after: task.prefetch_after,
            unverified: task.unverified.len() as u32,
            prefetched: task.prefetched,
            status: task.status.as_str().into(),
            total: task.total,
            success: task.success,
            failed: task.failed,
            created_at: local_time(task.created_at, zone),
            started_at: task.started_at.map(|t| local_time(t, zone)),
            finished_at: task.finished_at.map(|t| local_time(t, zone)),
            seq: task.seq,
        }
    }

    /// Turns the form's filters into a store filter; developers only ever see their own tasks.
    pub(crate) async fn filter(
        engine: &Engine,
        user: &User,
        zone: &Zone,
        query: &TaskListQuery,
        limit: u32,
    ) -> Result<TaskFilter, AppError> {
        let day =
            |text: &str, end: bool| -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
                if text.trim().is_empty() {
                    return Ok(None);
                }
                let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .map_err(|_| AppError::Invalid(format!("not a date: {text}")))?;
                let date = if end {
                    date.succ_opt().unwrap_or(date)
                } else {
                    date
                };
                let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
                let offset = zone.offset_at(chrono::Utc::now());
                Ok(midnight
                    .and_local_timezone(offset)
                    .single()
                    .map(|t| t.with_timezone(&chrono::Utc)))
            };
        let domain_id = engine.domain_filter(Some(&query.domain)).await?;
        Ok(TaskFilter {
            user_id: user.task_scope(),
            status: TaskStatus::parse(query.status.trim()),
            kind: TargetKind::parse(query.kind.trim()),
            domain_id,
            domain_ids: None,
            from: day(&query.from, false)?,
            to: day(&query.to, true)?,
            text: Some(query.text.trim().to_owned()).filter(|t| !t.is_empty()),
            before_seq: query.before,
            limit,
        })
    }

    /// Every task the filter matches (up to `max`), as CSV with a header line.
    pub async fn export_csv(
        engine: &Engine,
        user: &User,
        query: &TaskListQuery,
        max: usize,
    ) -> Result<String, AppError> {
        let zone = crate::api::context::zone_of(user, engine);
        let names = owner_names(engine).await?;
        let mut filter = filter(engine, user, &zone, query, 1000).await?;
        let mut csv = String::from("id,batch_id,user,kind,target,status,total,success,failed,created_at,started_at,finished_at,domain,mode,groups\n");
        let mut written = 0;
        loop {
            let page = engine.list_tasks(&filter).await?;
            for task in &page {
                let row = row(
                    task,
                    names
                        .get(&task.user_id.0)
                        .map(String::as_str)
                        .unwrap_or("?"),
                    &zone,
                );
                let fields = [
                    row.id,
                    row.batch_id,
                    row.username,
                    row.kind,
                    row.target,
                    row.status,
                    row.total.to_string(),
                    row.success.to_string(),
                    row.failed.to_string(),
                    row.created_at,
                    row.started_at.unwrap_or_default(),
                    row.finished_at.unwrap_or_default(),
                    row.domain,
                    row.mode,
                    row.groups.join(" "),
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                csv.push_str(&line.join(","));
                csv.push('\n');
                written += 1;
            }
            match page.last() {
                Some(last) if page.len() == 1000 && written < max => {
                    filter.before_seq = Some(last.seq)
                }
                _ => break,
            }
        }
        Ok(csv)
    }

    /// Quotes a CSV field when needed; a leading `=`, `+`, `-` or `@` is neutralised so that
    /// spreadsheets do not run it as a formula.
    fn csv_field(value: &str) -> String {
        let value = if value.starts_with(['=', '+', '-', '@']) {
            format!("'{value}")
        } else {
            value.to_owned()
        };
        if value.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", value.replace('"', "\"\""))
        } else {
            value
        }
    }

    /// The user names of task owners, for admins' lists.
    pub(crate) async fn owner_names(
        engine: &Engine,
    ) -> Result<std::collections::HashMap<i64, String>, AppError> {
        Ok(engine
            .list_users()
            .await?
            .into_iter()
            .map(|u| (u.id.0, u.username))
            .collect())
    }
}

/// One page (50) of tasks, newest first; `None` as the next cursor on the last page.
#[server]
pub async fn list_tasks(query: TaskListQuery) -> Result<(Vec<TaskRow>, Option<i64>), AppError> {
    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    let zone = super::context::zone_of(&user, &engine);
    let filter = ssr::filter(&engine, &user, &zone, &query, 51).await?;
    let mut tasks = engine.list_tasks(&filter).await?;
    let next = (tasks.len() > 50).then(|| {
        tasks.truncate(50);
        tasks.last().map(|t| t.seq)
    });
    let names = ssr::owner_names(&engine).await?;
    let rows = tasks
        .iter()
        .map(|t| {
            ssr::row(
                t,
                names.get(&t.user_id.0).map(String::as_str).unwrap_or("?"),
                &zone,
            )
        })
        .collect();
    Ok((rows, next.flatten()))
}

/// A task with its per-node results, grouped by failure reason.
#[server]
pub async fn get_task(id: String) -> Result<TaskDetail, AppError> {
    use crate::models::FailureGroup;

    let engine = super::context::engine()?;

    let user = super::context::user().await?;
    let viewer = engine::key_scope::Viewer::from(user.task_scope());
    let task = engine
        .task(&id, &viewer)
        .await?
        .ok_or_else(|| AppError::NotFound("task".into()))?;
    let owner = engine
        .user_by_id(task.user_id)
        .await?
        .map(|u| u.username)
        .unwrap_or_default();
    let zone = super::context::zone_of(&user, &engine);
    let report = engine.task_report(task).await?;
    let mut groups: Vec<FailureGroup> = Vec::new();
    for (ip, failure) in report.failures {
        let entry = (ip, failure.attempts, failure.detail);
        match groups.iter_mut().find(|g| g.reason == failure.reason.0) {
            Some(group) => group.nodes.push(entry),
            None => groups.push(FailureGroup {
                reason: failure.reason.0.clone(),
                nodes: vec![entry],
            }),
        }
    }
    groups.sort_by(|a, b| {
        b.nodes
            .len()
            .cmp(&a.nodes.len())
            .then(a.reason.cmp(&b.reason))
    });
    Ok(TaskDetail {
        task: ssr::row(&report.task, &owner, &zone),
        success_ips: report.success_ips,
        unverified_ips: report.unverified_ips,
        unprefetched_ips: report.unprefetched_ips,
        failures: groups,
    })
}

/// The tasks of a batch.
#[server]
pub async fn get_batch(id: String) -> Result<Vec<TaskRow>, AppError> {
    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    let viewer = engine::key_scope::Viewer::from(user.task_scope());
    let tasks = engine
        .batch_tasks(&id, &viewer)
        .await?
        .ok_or_else(|| AppError::NotFound("batch".into()))?;
    let zone = super::context::zone_of(&user, &engine);
    let names = ssr::owner_names(&engine).await?;
    Ok(tasks
        .iter()
        .map(|t| {
            ssr::row(
                t,
                names.get(&t.user_id.0).map(String::as_str).unwrap_or("?"),
                &zone,
            )
        })
        .collect())
}

/// Asks a failed task's failed nodes again.
#[server]
pub async fn retry_task(id: String) -> Result<bool, AppError> {
    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    let viewer = engine::key_scope::Viewer::from(user.task_scope());
    Ok(engine
        .retry_task(&engine::Actor::user(&user), &id, &viewer)
        .await?)
}
