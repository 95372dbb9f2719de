//! `GET /api/v1/tasks`, `GET /api/v1/tasks/{id}` and `POST /api/v1/tasks/{id}/retry`.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use engine::store::TaskFilter;
use engine::Actor;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::error::{ErrorBody, V1Error};
use super::extract::{page_size, V1Path, V1Query};
use super::views::{KindName, RetryResponse, TaskDetail, TaskPage, TaskStatusName, TaskView};
use crate::state::AppState;

/// Filters of the task list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// Only tasks with this status.
    #[param(inline)]
    pub status: Option<TaskStatusName>,
    /// Only tasks of this kind.
    #[param(inline)]
    pub kind: Option<KindName>,
    /// A domain host name.
    pub domain: Option<String>,
    /// Created at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Text the target contains (no NUL character).
    #[param(pattern = "^[^\\x00]*$")]
    pub text: Option<String>,
    /// From a previous page's `next_cursor`.
    #[param(pattern = "^[0-9]*$")]
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Tasks, newest first, with filters and cursor paging.
#[utoipa::path(
    get, path = "/api/v1/tasks", tag = "tasks", operation_id = "listTasks", params(TaskQuery),
    responses((status = 200, body = TaskPage), (status = 400, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    V1Query(query): V1Query<TaskQuery>,
) -> Result<Json<TaskPage>, V1Error> {
    // A cursor is a task's sequence number: digits; one past any task's is past them all.
    let before_seq = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) if c.bytes().all(|b| b.is_ascii_digit()) => Some(c.parse().unwrap_or(i64::MAX)),
        Some(_) => return Err(V1Error::invalid("invalid cursor")),
    };
    let domain_id = state.engine.domain_filter(query.domain.as_deref()).await?;
    let limit = page_size(query.limit)?;
    let viewer = caller.viewer(&state).await?;
    let filter = TaskFilter {
        user_id: viewer.user,
        domain_ids: viewer.domains,
        status: query.status.map(Into::into),
        kind: query.kind.map(Into::into),
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
    get, path = "/api/v1/tasks/{id}", tag = "tasks", operation_id = "getTask",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = TaskDetail), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    V1Path(id): V1Path<String>,
) -> Result<Json<TaskDetail>, V1Error> {
    let task = state
        .engine
        .task(&id, &caller.viewer(&state).await?)
        .await?
        .ok_or_else(|| V1Error::not_found(format!("task {id}")))?;
    Ok(Json(TaskDetail::from(
        state.engine.task_report(task).await?,
    )))
}

/// Asks the failed nodes of a failed task again (not `unsupported` ones).
#[utoipa::path(
    post, path = "/api/v1/tasks/{id}/retry", tag = "tasks", operation_id = "retryTask",
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
    V1Path(id): V1Path<String>,
) -> Result<Json<RetryResponse>, V1Error> {
    let actor = Actor::user(&caller.user);
    let viewer = caller.viewer(&state).await?;
    if !state.engine.retry_task(&actor, &id, &viewer).await? {
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
