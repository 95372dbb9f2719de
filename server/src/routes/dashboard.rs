//! The dashboard's own HTTP routes besides pages and server functions: live progress as
//! server-sent events, and the CSV export of the task history. Both use the session cookie.

use std::convert::Infallible;
use std::time::Duration;

use app::api::tasks::TaskListQuery;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use engine::users::{Role, User};
use futures::Stream;

use crate::state::AppState;

/// `/events` and `/export/tasks.csv`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(events))
        .route("/export/tasks.csv", get(export))
}

async fn session_user(state: &AppState, headers: &HeaderMap) -> Result<User, Response> {
    let unauthorized = || (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    let token = app::api::context::session_token_from(headers).ok_or_else(unauthorized)?;
    match state.engine.session_user(&token).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(unauthorized()),
        Err(error) => {
            tracing::error!(%error, "reading a session failed");
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// Progress of the user's tasks (every task for admins) as they are written.
async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Response> {
    let user = session_user(&state, &headers).await?;
    let receiver = state.engine.subscribe();
    let everyone = user.role == Role::Admin;
    let stream = futures::stream::unfold(receiver, move |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(event) if everyone || event.user_id == user.id => {
                    let data = serde_json::to_string(&event).unwrap_or_default();
                    return Some((Ok(Event::default().data(data)), receiver));
                }
                Ok(_) => continue,
                // A slow browser missed some events; the next ones carry the full counters.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The filtered history as CSV (at most 100 000 rows).
async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<TaskListQuery>,
) -> Response {
    let user = match session_user(&state, &headers).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    match app::api::tasks::ssr::export_csv(&state.engine, &user, &query, 100_000).await {
        Ok(csv) => (
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    CONTENT_DISPOSITION,
                    "attachment; filename=\"purger-tasks.csv\"",
                ),
            ],
            csv,
        )
            .into_response(),
        Err(error) => (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    }
}
