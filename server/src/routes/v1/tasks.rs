//! `GET /api/v1/tasks`, `GET /api/v1/tasks/{id}` and `POST /api/v1/tasks/{id}/retry`.

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use engine::store::TaskFilter;
use engine::target::TargetKind;
use engine::tasks::TaskStatus;
use engine::Actor;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::error::{ErrorBody, V1Error};
use super::views::{RetryResponse, TaskDetail, TaskPage, TaskView};
use crate::state::AppState;

/// Filters of the task list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct TaskQuery {
    /// `created`, `running`, `success` or `failed`.
    pub status: Option<String>,
    /// `url`, `prefix` or `regex`.
    pub kind: Option<String>,
    /// A domain host name.
    pub domain: Option<String>,
    /// Created at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Text the target contains.
    pub text: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// Tasks, newest first, with filters and cursor paging.
#[utoipa::path(
    get, path = "/api/v1/tasks", tag = "tasks", params(TaskQuery),
    responses((status = 200, body = TaskPage), (status = 400, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<TaskQuery>,
) -> Result<Json<TaskPage>, V1Error> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            TaskStatus::parse(s).ok_or_else(|| V1Error::invalid(format!("unknown status {s:?}")))
        })
        .transpose()?;
    let kind = query
        .kind
        .as_deref()
        .map(|k| {
            TargetKind::parse(k).ok_or_else(|| V1Error::invalid(format!("unknown kind {k:?}")))
        })
        .transpose()?;
    let before_seq = query
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| V1Error::invalid("invalid cursor"))
        })
        .transpose()?;
    let domain_id = state.engine.domain_filter(query.domain.as_deref()).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let filter = TaskFilter {
        user_id: caller.user.task_scope(),
        status,
        kind,
        domain_id,
        from: query.from,
        to: query.to,
        text: query.text.filter(|t| !t.is_empty()),
        before_seq,
        limit: limit + 1,
    };
    let mut tasks = state.engine.list_tasks(&filter).await?;
    let next_cursor = if tasks.len() > limit as usize {
        tasks.truncate(limit as usize);
        tasks.last().map(|t| t.seq.to_string())
    } else {
        None
    };
    Ok(Json(TaskPage {
        tasks: tasks.iter().map(TaskView::from).collect(),
        next_cursor,
    }))
}

/// A task with its per-node results.
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = TaskDetail), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TaskDetail>, V1Error> {
    let task = state
        .engine
        .task(&id, caller.user.task_scope())
        .await?
        .ok_or_else(|| V1Error::not_found(format!("task {id}")))?;
    Ok(Json(TaskDetail::from(
        state.engine.task_report(task).await?,
    )))
}

/// Asks the failed nodes of a failed task again (not `unsupported` ones).
#[utoipa::path(
    post, path = "/api/v1/tasks/{id}/retry", tag = "tasks",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, body = RetryResponse),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Nothing to retry: the task is not failed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RetryResponse>, V1Error> {
    let actor = Actor::user(&caller.user);
    if !state
        .engine
        .retry_task(&actor, &id, caller.user.task_scope())
        .await?
    {
        return Err(V1Error::new(
            axum::http::StatusCode::CONFLICT,
            "nothing_to_retry",
            "the task has no failed nodes to retry",
        ));
    }
    Ok(Json(RetryResponse {
        task_id: id,
        requeued: true,
    }))
}
