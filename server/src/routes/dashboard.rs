//! The dashboard's own HTTP routes besides pages and server functions: live progress as
//! server-sent events and the CSV export of the task history (both use the session cookie),
//! and the favicon.

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

/// `/events`, `/export/tasks.csv` and the favicon.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(events))
        .route("/export/tasks.csv", get(export))
        // Browsers ask for /favicon.ico whatever the page links to; both get the SVG.
        .route("/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
}

/// The icon, built in (it needs no site directory).
async fn favicon() -> Response {
    (
        [
            (CONTENT_TYPE, "image/svg+xml"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../../style/favicon.svg"),
    )
        .into_response()
}

/// How often an open event stream checks that its session still stands, besides when this
/// instance changes the user (another instance may have ended the session).
const SESSION_RECHECK: Duration = Duration::from_secs(15);

async fn session_user(state: &AppState, headers: &HeaderMap) -> Result<(User, String), Response> {
    let unauthorized = || (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    let token =
        app::api::context::session_token_from(headers, state.cookies).ok_or_else(unauthorized)?;
    match state.engine.session_user(&token).await {
        Ok(Some(user)) => Ok((user, token)),
        Ok(None) => Err(unauthorized()),
        Err(error) => {
            tracing::error!(%error, "reading a session failed");
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// An open event stream: what it listens to, and the session it was opened with.
struct Watch {
    events: tokio::sync::broadcast::Receiver<engine::fanout::ProgressEvent>,
    changes: tokio::sync::broadcast::Receiver<engine::users::UserId>,
    recheck: tokio::time::Interval,
    state: AppState,
    token: String,
    user: User,
}

impl Watch {
    /// Whether the session still stands for the same user with the same role.
    async fn still_valid(&self) -> bool {
        match self.state.engine.session_user(&self.token).await {
            Ok(Some(user)) => user.role == self.user.role,
            Ok(None) => false,
            // The database is unavailable for now: keep the stream, check again later.
            Err(_) => true,
        }
    }

    /// The next event for this user, or `None` when the stream must end.
    async fn next(&mut self) -> Option<String> {
        use tokio::sync::broadcast::error::RecvError;
        let everyone = self.user.role == Role::Admin;
        loop {
            tokio::select! {
                event = self.events.recv() => match event {
                    Ok(event) if everyone || event.user_id == self.user.id => {
                        return Some(serde_json::to_string(&event).unwrap_or_default());
                    }
                    Ok(_) => continue,
                    // A slow browser missed some events; the next ones carry the full counters.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                },
                change = self.changes.recv() => match change {
                    Ok(id) if id != self.user.id => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        if !self.still_valid().await {
                            return None;
                        }
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = self.recheck.tick() => {
                    if !self.still_valid().await {
                        return None;
                    }
                }
            }
        }
    }
}

/// Progress of the user's tasks (every task for admins) as they are written; the stream ends
/// when the session does (sign-out, a new password) or the user is disabled or changes role.
async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Response> {
    let (user, token) = session_user(&state, &headers).await?;
    let mut recheck = tokio::time::interval(SESSION_RECHECK);
    recheck.reset();
    let watch = Watch {
        events: state.engine.subscribe(),
        changes: state.engine.account_changes(),
        recheck,
        state,
        token,
        user,
    };
    let stream = futures::stream::unfold(watch, |mut watch| async move {
        let data = watch.next().await?;
        Some((Ok(Event::default().data(data)), watch))
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
        Ok((user, _)) => user,
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
