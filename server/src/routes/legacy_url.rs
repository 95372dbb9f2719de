//! Seed 000: the URL purge API, kept byte-compatible for its existing clients.
//!
//! `GET /api/purge?uri=…&api_key=…[&callback_url=…][&taskId=…]` and `GET /api/q?uri=…&api_key=…`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use engine::submit::{Refusal, Source, Submission, SubmitError};
use engine::target::TargetKind;
use engine::time::seed_compact;
use engine::AuthFailure;
use serde::Serialize;

use crate::state::AppState;

/// The seed-000 routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/purge", get(purge))
        .route("/api/q", get(query))
}

/// `{"create_at":…,"status":…,"uri":…}`: an accepted purge.
#[derive(Serialize)]
struct Created<'a> {
    create_at: String,
    status: &'a str,
    uri: &'a str,
}

/// `{"status":"failed","message":…,"uri":…}`: every refusal.
#[derive(Serialize)]
struct Failed<'a> {
    status: &'static str,
    message: &'a str,
    uri: &'a str,
}

fn failed(status: StatusCode, message: &str, uri: &str) -> Response {
    (
        status,
        Json(Failed {
            status: "failed",
            message,
            uri,
        }),
    )
        .into_response()
}

fn retry_after(mut response: Response, seconds: u64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        response.headers_mut().insert("Retry-After", value);
    }
    response
}

/// Authenticates `api_key` and applies its rate limit.
async fn authenticate(
    state: &AppState,
    params: &HashMap<String, String>,
    uri: &str,
) -> Result<(engine::store::ApiKeyInfo, engine::users::User), Response> {
    let key = params.get("api_key").map(String::as_str).unwrap_or("");
    if key.is_empty() {
        return Err(failed(StatusCode::UNAUTHORIZED, "api_key is required", uri));
    }
    match state.engine.authenticate_key(key).await {
        Ok(Ok((info, user))) => {
            if let Err(wait) = state.rate_limiter.check(info.id) {
                return Err(retry_after(
                    failed(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded", uri),
                    wait.as_secs() + 1,
                ));
            }
            Ok((info, user))
        }
        Ok(Err(AuthFailure::UserDisabled)) => {
            Err(failed(StatusCode::FORBIDDEN, "user is disabled", uri))
        }
        Ok(Err(_)) => Err(failed(StatusCode::UNAUTHORIZED, "invalid api_key", uri)),
        Err(error) => {
            tracing::error!(%error, "authenticating an API key failed");
            Err(failed(
                StatusCode::INTERNAL_SERVER_ERROR,
                "system exception",
                uri,
            ))
        }
    }
}

async fn purge(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let uri = params.get("uri").map(|u| u.trim()).unwrap_or("").to_owned();
    let (key, user) = match authenticate(&state, &params, &uri).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if uri.is_empty() {
        return failed(StatusCode::BAD_REQUEST, "uri is required", &uri);
    }
    let submission = Submission {
        targets: vec![(TargetKind::Url, uri.clone())],
        callback_url: params
            .get("callback_url")
            .filter(|u| !u.is_empty())
            .cloned(),
        idempotency_key: None,
        client_task_id: params.get("taskId").filter(|t| !t.is_empty()).cloned(),
        source: Source::Api000,
        api_key_id: Some(key.id),
    };
    let outcome = match state.engine.submit(&user, submission).await {
        Ok(outcome) => outcome,
        Err(SubmitError::NotAllowed) => {
            return failed(StatusCode::FORBIDDEN, "user not allowed to purge", &uri)
        }
        Err(SubmitError::UserDisabled) => {
            return failed(StatusCode::FORBIDDEN, "user is disabled", &uri)
        }
        Err(SubmitError::ClientTaskConflict(task)) => {
            return failed(
                StatusCode::CONFLICT,
                &format!("taskId {task} was already used for another uri"),
                &uri,
            )
        }
        Err(SubmitError::Busy(_)) => {
            return retry_after(
                failed(StatusCode::TOO_MANY_REQUESTS, "server busy", &uri),
                1,
            )
        }
        Err(SubmitError::Store(error)) => {
            tracing::error!(%error, "accepting a purge failed");
            return failed(StatusCode::INTERNAL_SERVER_ERROR, "system exception", &uri);
        }
        Err(error) => return failed(StatusCode::BAD_REQUEST, &error.to_string(), &uri),
    };
    let Some(verdict) = outcome.verdicts.first() else {
        return failed(StatusCode::BAD_REQUEST, "invalid uri", &uri);
    };
    match &verdict.result {
        // The verdict says what the answer needs: a task made now is `created` even when a
        // worker has claimed it meanwhile; one found by its `taskId` has its real status.
        Ok(task) => (
            StatusCode::OK,
            Json(Created {
                create_at: seed_compact(task.created_at, state.engine.time_zone()),
                status: task.status.as_str(),
                uri: &uri,
            }),
        )
            .into_response(),
        Err(Refusal::Invalid(reason)) => failed(
            StatusCode::BAD_REQUEST,
            &format!("invalid uri: {reason}"),
            &uri,
        ),
        Err(Refusal::NotYourDomain) => failed(
            StatusCode::FORBIDDEN,
            "the uri's domain is not one of yours",
            &uri,
        ),
        Err(Refusal::OverQuota) => {
            let limit = outcome.quota.limits.url;
            failed(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("the number of url out of today limit({limit})"),
                &uri,
            )
        }
        Err(Refusal::StillRunning) => failed(
            StatusCode::TOO_MANY_REQUESTS,
            "the same purge is still running",
            &uri,
        ),
    }
}

async fn query(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let uri = params.get("uri").map(|u| u.trim()).unwrap_or("").to_owned();
    let (_, user) = match authenticate(&state, &params, &uri).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if uri.is_empty() {
        return failed(StatusCode::BAD_REQUEST, "uri is required", &uri);
    }
    let task = match state.engine.latest_task_for_target(user.id, &uri).await {
        Ok(Some(task)) => task,
        Ok(None) => return failed(StatusCode::NOT_FOUND, "no purge task for this uri", &uri),
        Err(error) => {
            tracing::error!(%error, "reading a task failed");
            return failed(StatusCode::INTERNAL_SERVER_ERROR, "system exception", &uri);
        }
    };
    match state.engine.seed_query_body(&task).await {
        Ok(body) => (StatusCode::OK, Json(body)).into_response(),
        Err(error) => {
            tracing::error!(%error, "building a task report failed");
            failed(StatusCode::INTERNAL_SERVER_ERROR, "system exception", &uri)
        }
    }
}
