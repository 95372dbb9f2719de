//! Seed 000: the URL purge API, kept byte-compatible for its existing clients.
//!
//! `GET /api/purge?uri=…&api_key=…[&callback_url=…][&taskId=…]` and `GET /api/q?uri=…&api_key=…`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use engine::callback_target::CallbackUrlError;
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

/// `{"status":"failed","message":…,"uri":…}`: every refusal, with its HTTP status and, where
/// the client should wait, `Retry-After`. Handlers return it with `?`.
#[derive(Debug)]
struct Seed000Error {
    status: StatusCode,
    message: String,
    uri: String,
    retry_after: Option<u64>,
}

impl Seed000Error {
    fn new(status: StatusCode, message: impl Into<String>, uri: &str) -> Self {
        Self {
            status,
            message: message.into(),
            uri: uri.to_owned(),
            retry_after: None,
        }
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// A failure of ours: logged with its cause, shown to the client as the seed's words.
    fn internal(what: &str, error: &dyn std::fmt::Display, uri: &str) -> Self {
        tracing::error!(%error, "{what} failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "system exception", uri)
    }

    fn from_submit(error: SubmitError, uri: &str) -> Self {
        match error {
            SubmitError::NotAllowed => {
                Self::new(StatusCode::FORBIDDEN, "user not allowed to purge", uri)
            }
            SubmitError::UserDisabled => Self::new(StatusCode::FORBIDDEN, "user is disabled", uri),
            SubmitError::KeyNotAllowed(_) => Self::new(
                StatusCode::FORBIDDEN,
                "this api_key may not purge urls",
                uri,
            ),
            SubmitError::ClientTaskConflict(task) => Self::new(
                StatusCode::CONFLICT,
                format!("taskId {task} was already used for another uri"),
                uri,
            ),
            SubmitError::Callback(
                CallbackUrlError::Unresolvable(_) | CallbackUrlError::NotPublic(_),
            ) => Self::new(StatusCode::FORBIDDEN, error.to_string(), uri),
            SubmitError::Busy(_) => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "server busy", uri).retry_after(1)
            }
            SubmitError::Store(error) => Self::internal("accepting a purge", &error, uri),
            error => Self::new(StatusCode::BAD_REQUEST, error.to_string(), uri),
        }
    }

    /// Seed 000's words for a refused uri (`url_limit`: the caller's daily URL limit).
    fn from_refusal(refusal: &Refusal, url_limit: u32, uri: &str) -> Self {
        match refusal {
            Refusal::Invalid(reason) => Self::new(
                StatusCode::BAD_REQUEST,
                format!("invalid uri: {reason}"),
                uri,
            ),
            Refusal::NotYourDomain => Self::new(
                StatusCode::FORBIDDEN,
                "the uri's domain is not one of yours",
                uri,
            ),
            Refusal::OverQuota => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("the number of url out of today limit({url_limit})"),
                uri,
            ),
            Refusal::KindNotAllowed => Self::new(
                StatusCode::FORBIDDEN,
                "this api_key may not purge urls",
                uri,
            ),
            Refusal::StillRunning => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "the same purge is still running",
                uri,
            ),
        }
    }
}

impl IntoResponse for Seed000Error {
    fn into_response(self) -> Response {
        let body = Failed {
            status: "failed",
            message: &self.message,
            uri: &self.uri,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert("Retry-After", value);
            }
        }
        response
    }
}

/// The refusal body's fields.
#[derive(Serialize)]
struct Failed<'a> {
    status: &'static str,
    message: &'a str,
    uri: &'a str,
}

/// Authenticates `api_key` and applies its rate limit.
async fn authenticate(
    state: &AppState,
    params: &HashMap<String, String>,
    uri: &str,
) -> Result<(engine::store::ApiKeyInfo, engine::users::User), Seed000Error> {
    let key = params.get("api_key").map(String::as_str).unwrap_or("");
    if key.is_empty() {
        return Err(Seed000Error::new(
            StatusCode::UNAUTHORIZED,
            "api_key is required",
            uri,
        ));
    }
    let authenticated = state
        .engine
        .authenticate_key(key)
        .await
        .map_err(|error| Seed000Error::internal("authenticating an API key", &error, uri))?;
    match authenticated {
        Ok((info, user)) => {
            if let Err(wait) = state.rate_limiter.check(info.id) {
                return Err(Seed000Error::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate limit exceeded",
                    uri,
                )
                .retry_after(wait.as_secs() + 1));
            }
            Ok((info, user))
        }
        Err(AuthFailure::UserDisabled) => Err(Seed000Error::new(
            StatusCode::FORBIDDEN,
            "user is disabled",
            uri,
        )),
        Err(_) => Err(Seed000Error::new(
            StatusCode::UNAUTHORIZED,
            "invalid api_key",
            uri,
        )),
    }
}

/// The uri parameter, trimmed; required.
fn required_uri(params: &HashMap<String, String>) -> String {
    params.get("uri").map(|u| u.trim()).unwrap_or("").to_owned()
}

async fn purge(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Seed000Error> {
    let uri = required_uri(&params);
    let (key, user) = authenticate(&state, &params, &uri).await?;
    if uri.is_empty() {
        return Err(Seed000Error::new(
            StatusCode::BAD_REQUEST,
            "uri is required",
            &uri,
        ));
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
        key_scope: key.scope.clone(),
        domain: None,
        mode: Default::default(),
        groups: Vec::new(),
        verify: false,
        prefetch_after: false,
    };
    let outcome = state
        .engine
        .submit(&user, submission)
        .await
        .map_err(|error| Seed000Error::from_submit(error, &uri))?;
    let verdict = outcome
        .verdicts
        .first()
        .ok_or_else(|| Seed000Error::new(StatusCode::BAD_REQUEST, "invalid uri", &uri))?;
    // The verdict says what the answer needs: a task made now is `created` even when a worker
    // has claimed it meanwhile; one found by its `taskId` has its real status.
    let task = verdict
        .result
        .as_ref()
        .map_err(|refusal| Seed000Error::from_refusal(refusal, outcome.quota.limits.url, &uri))?;
    Ok((
        StatusCode::OK,
        Json(Created {
            create_at: seed_compact(task.created_at, state.engine.time_zone()),
            status: task.status.as_str(),
            uri: &uri,
        }),
    )
        .into_response())
}

async fn query(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Seed000Error> {
    let uri = required_uri(&params);
    let (key, user) = authenticate(&state, &params, &uri).await?;
    if uri.is_empty() {
        return Err(Seed000Error::new(
            StatusCode::BAD_REQUEST,
            "uri is required",
            &uri,
        ));
    }
    let viewer = state
        .engine
        .key_viewer(&user, &key.scope)
        .await
        .map_err(|error| Seed000Error::internal("reading a key's domains", &error, &uri))?;
    let task = state
        .engine
        .latest_url_task(user.id, &uri)
        .await
        .map_err(|error| Seed000Error::internal("reading a task", &error, &uri))?
        .filter(|task| viewer.sees(task))
        .ok_or_else(|| {
            Seed000Error::new(StatusCode::NOT_FOUND, "no purge task for this uri", &uri)
        })?;
    let body = state
        .engine
        .seed_query_body(&task)
        .await
        .map_err(|error| Seed000Error::internal("building a task report", &error, &uri))?;
    Ok((StatusCode::OK, Json(body)).into_response())
}
