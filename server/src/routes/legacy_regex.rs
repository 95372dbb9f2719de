//! Seed 004: the regex purge API with HMAC-signed Basic auth, kept byte-compatible.
//!
//! `POST /api/content/regular-url/purge` with `{"urlRegulars":[…]}`, and
//! `GET /api/content/regular-url/purge/{itemId}` for the batch's status.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use engine::report::SeedQueryBody;
use engine::seed004::{date_is_fresh, Credentials};
use engine::store::ApiKeyInfo;
use engine::submit::{Refusal, Source, Submission, SubmitError};
use engine::target::TargetKind;
use engine::time::Zone;
use engine::users::User;
use engine::AuthFailure;
use serde::Serialize;

use crate::state::AppState;

/// The seed-004 routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/content/regular-url/purge", post(purge))
        .route("/api/content/regular-url/purge/{item_id}", get(status))
}

/// `{"Code":…,"Message":…,"itemId":…}`.
#[derive(Serialize)]
struct Answer {
    #[serde(rename = "Code")]
    code: &'static str,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "itemId", skip_serializing_if = "Option::is_none")]
    item_id: Option<String>,
}

/// `{"Code":"Success","Message":"handle success"[,"itemId":…]}`.
fn success(item_id: Option<String>) -> Response {
    let body = Answer {
        code: "Success",
        message: "handle success".to_owned(),
        item_id,
    };
    (StatusCode::OK, Json(body)).into_response()
}

/// A refusal in seed 004's shape, `{"Code":…,"Message":…[,"itemId":…]}`, with its HTTP status
/// (and `Retry-After` where the client should wait). Handlers return it with `?`.
#[derive(Debug)]
struct Seed004Error {
    status: StatusCode,
    code: &'static str,
    message: String,
    item_id: Option<String>,
    retry_after: Option<u64>,
}

impl Seed004Error {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            item_id: None,
            retry_after: None,
        }
    }

    /// A failure of ours: logged with its cause, shown as the seed's `SystemException`.
    fn system(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "seed-004 request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SystemException",
            "system exception",
        )
    }

    /// 429 `RateLimited` with `Retry-After` (the key's rate, or a busy server).
    fn rate_limited(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RateLimited",
                "rate limit exceeded",
            )
        }
    }

    fn user_invalid() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "UserNameInvalid",
            "username is invalid",
        )
    }

    fn not_allowed() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "UserNotAllowedPush",
            "user not allowed push",
        )
    }

    fn empty() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "UrlRegularEmpty",
            "url regular must not be empty",
        )
    }
}

impl IntoResponse for Seed004Error {
    fn into_response(self) -> Response {
        let body = Answer {
            code: self.code,
            message: self.message,
            item_id: self.item_id,
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

/// Checks `Authorization: Basic base64(user:base64(HMAC-SHA1(key, Date)))` and the `Date`.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(ApiKeyInfo, User), Seed004Error> {
    let credentials = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(Credentials::parse)
        .ok_or_else(Seed004Error::user_invalid)?;
    let date = headers
        .get("date")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    let authenticated = state
        .engine
        .authenticate_seed004(&credentials.username, date, &credentials.signature)
        .await
        .map_err(Seed004Error::system)?;
    match authenticated {
        Ok((key, user)) => {
            // The signature is checked before the date, so that a stranger learns nothing.
            if !date_is_fresh(date, Utc::now(), state.api.date_skew_secs) {
                return Err(Seed004Error::new(
                    StatusCode::UNAUTHORIZED,
                    "DateInvalid",
                    "date is missing, malformed or too far from the server clock",
                ));
            }
            if let Err(wait) = state.rate_limiter.check(key.id) {
                return Err(Seed004Error::rate_limited(wait.as_secs() + 1));
            }
            Ok((key, user))
        }
        Err(AuthFailure::UnknownUser | AuthFailure::UserDisabled) => {
            Err(Seed004Error::user_invalid())
        }
        Err(_) => Err(Seed004Error::new(
            StatusCode::UNAUTHORIZED,
            "SignatureInvalid",
            "signature is invalid",
        )),
    }
}

/// The zone of `X-Time-Zone`, if the caller sent a valid one.
fn caller_zone(headers: &HeaderMap) -> Option<Zone> {
    headers
        .get("x-time-zone")
        .and_then(|v| v.to_str().ok())
        .and_then(|text| Zone::parse(text).ok())
}

fn parse_regexes(body: &[u8]) -> Option<Vec<String>> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let list = value.as_object()?.get("urlRegulars")?.as_array()?;
    list.iter()
        .map(|item| item.as_str().map(str::to_owned))
        .collect()
}

async fn purge(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Seed004Error> {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(Seed004Error::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "ContentTypeInvalid",
            "content type must be application/json",
        ));
    }
    let too_large = || {
        Seed004Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BodyTooLarge",
            format!(
                "request body is larger than {} bytes",
                state.api.max_body_bytes
            ),
        )
    };
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > state.api.max_body_bytes as u64) {
        return Err(too_large());
    }
    // The signature first: a stranger cannot make the server read (and hold) a body.
    let (key, user) = authenticate(&state, &headers).await?;
    let body = axum::body::to_bytes(body, state.api.max_body_bytes)
        .await
        .map_err(|_| too_large())?;
    // Seed 004 refuses before it parses: a user or key that may not purge regexes.
    if !user.can_purge || !key.scope.allows_kind(TargetKind::Regex) {
        return Err(Seed004Error::not_allowed());
    }
    let regexes = parse_regexes(&body).ok_or_else(|| {
        Seed004Error::new(
            StatusCode::BAD_REQUEST,
            "ParseParameterError",
            "parse parameter json error",
        )
    })?;
    let distinct = engine::submit::dedupe(
        regexes
            .into_iter()
            .map(|r| (TargetKind::Regex, r))
            .collect(),
    );
    if distinct.iter().all(|(_, regex)| regex.is_empty()) {
        return Err(Seed004Error::empty());
    }
    let limits = user.quota.resolve(&state.engine.config().quota);
    if distinct.len() > limits.batch as usize {
        let message = format!(
            "you can't submit more than {} url regulars at a time",
            limits.batch
        );
        return Err(Seed004Error::new(
            StatusCode::BAD_REQUEST,
            "OnceSubmitLessThan500",
            message,
        ));
    }
    let submission = Submission {
        targets: distinct,
        callback_url: None,
        idempotency_key: None,
        client_task_id: None,
        source: Source::Api004,
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
        .map_err(|error| match error {
            SubmitError::NotAllowed | SubmitError::KeyNotAllowed(_) => Seed004Error::not_allowed(),
            SubmitError::UserDisabled => Seed004Error::user_invalid(),
            SubmitError::Empty => Seed004Error::empty(),
            SubmitError::Busy(_) => Seed004Error::rate_limited(1),
            error => Seed004Error::system(error),
        })?;

    let refused = |wanted: fn(&Refusal) -> bool| -> Vec<&str> {
        outcome
            .verdicts
            .iter()
            .filter(|v| v.result.as_ref().err().is_some_and(wanted))
            .map(|v| v.target.as_str())
            .collect()
    };
    let invalid = refused(|r| matches!(r, Refusal::Invalid(_)));
    let channel = refused(|r| matches!(r, Refusal::NotYourDomain));
    let repeat = refused(|r| matches!(r, Refusal::StillRunning));
    let over = refused(|r| matches!(r, Refusal::OverQuota));
    let item_id = outcome.batch_id.as_ref().map(ToString::to_string);
    let zone = caller_zone(&headers);

    let mut parts: Vec<(&'static str, String)> = Vec::new();
    if !invalid.is_empty() {
        parts.push((
            "InvalidUrlRegular",
            format!("invalid url regular [{}].", invalid.join(",")),
        ));
    }
    if !channel.is_empty() {
        parts.push((
            "ErrorChannel",
            format!("error channel [{}].", channel.join(",")),
        ));
    }
    if !repeat.is_empty() {
        for regex in &repeat {
            parts.push((
                "RepeatUrlRegular",
                format!("running url regular[{regex}], please try again after one minute."),
            ));
        }
    }
    if !over.is_empty() {
        let quota = &outcome.quota;
        let fitted = quota.used.regex - quota.used_before.regex;
        let window = zone.as_ref().map(|zone| quota.day.window_in(zone));
        if fitted == 0 {
            let message = match &window {
                Some(window) => format!(
                    "the number of url regular out of {window} limit({})",
                    quota.limits.regex
                ),
                None => format!(
                    "the number of url regular out of today limit({})",
                    quota.limits.regex
                ),
            };
            parts.push(("NumberOutOfLimit", message));
        } else {
            let message = match &window {
                Some(window) => format!(
                    "[{}]: url regular can only purge [{fitted}] count this time. {window} has purge the number of url regular: [{}].",
                    user.username, quota.used_before.regex
                ),
                None => format!(
                    "[{}]: url regular can only purge [{fitted}] count this time. Today has purge the number of url regular: [{}]",
                    user.username, quota.used_before.regex
                ),
            };
            parts.push(("NumberPartlyOutOfLimit", message));
        }
    }
    match parts.first() {
        None => Ok(success(item_id)),
        Some((code, _)) => {
            let message = parts
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            Err(Seed004Error {
                item_id,
                ..Seed004Error::new(StatusCode::BAD_REQUEST, code, message)
            })
        }
    }
}

/// One task of a batch: seed 000's query body plus the task id.
#[derive(Serialize)]
struct BatchTask {
    #[serde(rename = "taskId")]
    task_id: String,
    #[serde(flatten)]
    body: SeedQueryBody,
}

#[derive(Serialize)]
struct BatchStatus {
    #[serde(rename = "Code")]
    code: &'static str,
    #[serde(rename = "Message")]
    message: &'static str,
    #[serde(rename = "itemId")]
    item_id: String,
    tasks: Vec<BatchTask>,
}

async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(item_id): Path<String>,
) -> Result<Response, Seed004Error> {
    let (key, user) = authenticate(&state, &headers).await?;
    // The submitter's own batches, even an admin's (seed 004 knows no admins).
    let viewer = state
        .engine
        .key_viewer(&user, &key.scope)
        .await
        .map_err(Seed004Error::system)?;
    let viewer = engine::key_scope::Viewer {
        user: Some(user.id),
        ..viewer
    };
    let tasks = state
        .engine
        .batch_tasks(&item_id, &viewer)
        .await
        .map_err(Seed004Error::system)?
        .ok_or_else(|| {
            Seed004Error::new(
                StatusCode::NOT_FOUND,
                "ItemIdNotFound",
                format!("item id [{item_id}] not found"),
            )
        })?;
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        let body = state
            .engine
            .seed_query_body(&task)
            .await
            .map_err(Seed004Error::system)?;
        out.push(BatchTask {
            task_id: task.id.to_string(),
            body,
        });
    }
    let status = BatchStatus {
        code: "Success",
        message: "handle success",
        item_id,
        tasks: out,
    };
    Ok((StatusCode::OK, Json(status)).into_response())
}
