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

fn answer(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
    item_id: Option<String>,
) -> Response {
    (
        status,
        Json(Answer {
            code,
            message: message.into(),
            item_id,
        }),
    )
        .into_response()
}

fn system_exception(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "seed-004 request failed");
    answer(
        StatusCode::INTERNAL_SERVER_ERROR,
        "SystemException",
        "system exception",
        None,
    )
}

/// 429 `RateLimited` with `Retry-After` (the key's rate, or a busy server).
fn rate_limited(retry_after: u64) -> Response {
    let mut response = answer(
        StatusCode::TOO_MANY_REQUESTS,
        "RateLimited",
        "rate limit exceeded",
        None,
    );
    if let Ok(value) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
        response.headers_mut().insert("Retry-After", value);
    }
    response
}

/// Checks `Authorization: Basic base64(user:base64(HMAC-SHA1(key, Date)))` and the `Date`.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<User, Response> {
    let user_invalid = || {
        answer(
            StatusCode::BAD_REQUEST,
            "UserNameInvalid",
            "username is invalid",
            None,
        )
    };
    let credentials = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(Credentials::parse)
        .ok_or_else(user_invalid)?;
    let date_invalid = || {
        answer(
            StatusCode::UNAUTHORIZED,
            "DateInvalid",
            "date is missing, malformed or too far from the server clock",
            None,
        )
    };
    let date = headers
        .get("date")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    let user = match state
        .engine
        .authenticate_seed004(&credentials.username, date, &credentials.signature)
        .await
    {
        Ok(Ok((key, user))) => {
            // The signature is checked before the date, so that a stranger learns nothing.
            if !date_is_fresh(date, Utc::now(), state.api.date_skew_secs) {
                return Err(date_invalid());
            }
            if let Err(wait) = state.rate_limiter.check(key.id) {
                return Err(rate_limited(wait.as_secs() + 1));
            }
            user
        }
        Ok(Err(AuthFailure::UnknownUser | AuthFailure::UserDisabled)) => return Err(user_invalid()),
        Ok(Err(_)) => {
            return Err(answer(
                StatusCode::UNAUTHORIZED,
                "SignatureInvalid",
                "signature is invalid",
                None,
            ));
        }
        Err(error) => return Err(system_exception(error)),
    };
    Ok(user)
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

async fn purge(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return answer(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "ContentTypeInvalid",
            "content type must be application/json",
            None,
        );
    }
    let too_large = || {
        answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BodyTooLarge",
            format!(
                "request body is larger than {} bytes",
                state.api.max_body_bytes
            ),
            None,
        )
    };
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > state.api.max_body_bytes as u64) {
        return too_large();
    }
    // The signature first: a stranger cannot make the server read (and hold) a body.
    let user = match authenticate(&state, &headers).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let Ok(body) = axum::body::to_bytes(body, state.api.max_body_bytes).await else {
        return too_large();
    };
    if !user.can_purge {
        return answer(
            StatusCode::BAD_REQUEST,
            "UserNotAllowedPush",
            "user not allowed push",
            None,
        );
    }
    let Some(regexes) = parse_regexes(&body) else {
        return answer(
            StatusCode::BAD_REQUEST,
            "ParseParameterError",
            "parse parameter json error",
            None,
        );
    };
    let distinct = engine::submit::dedupe(
        regexes
            .into_iter()
            .map(|r| (TargetKind::Regex, r))
            .collect(),
    );
    if distinct.iter().all(|(_, regex)| regex.is_empty()) {
        return answer(
            StatusCode::BAD_REQUEST,
            "UrlRegularEmpty",
            "url regular must not be empty",
            None,
        );
    }
    let limits = user.quota.resolve(&state.engine.config().quota);
    if distinct.len() > limits.batch as usize {
        let message = format!(
            "you can't submit more than {} url regulars at a time",
            limits.batch
        );
        return answer(
            StatusCode::BAD_REQUEST,
            "OnceSubmitLessThan500",
            message,
            None,
        );
    }
    let submission = Submission {
        targets: distinct,
        callback_url: None,
        idempotency_key: None,
        client_task_id: None,
        source: Source::Api004,
        api_key_id: None,
    };
    let outcome = match state.engine.submit(&user, submission).await {
        Ok(outcome) => outcome,
        Err(SubmitError::NotAllowed) => {
            return answer(
                StatusCode::BAD_REQUEST,
                "UserNotAllowedPush",
                "user not allowed push",
                None,
            )
        }
        Err(SubmitError::UserDisabled) => {
            return answer(
                StatusCode::BAD_REQUEST,
                "UserNameInvalid",
                "username is invalid",
                None,
            )
        }
        Err(SubmitError::Empty) => {
            return answer(
                StatusCode::BAD_REQUEST,
                "UrlRegularEmpty",
                "url regular must not be empty",
                None,
            )
        }
        Err(SubmitError::Busy(_)) => return rate_limited(1),
        Err(error) => return system_exception(error),
    };

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
        None => answer(StatusCode::OK, "Success", "handle success", item_id),
        Some((code, _)) => {
            let message = parts
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            answer(StatusCode::BAD_REQUEST, code, message, item_id)
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
) -> Response {
    let user = match authenticate(&state, &headers).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let tasks = match state.engine.batch_tasks(&item_id, Some(user.id)).await {
        Ok(Some(tasks)) => tasks,
        Ok(None) => {
            return answer(
                StatusCode::NOT_FOUND,
                "ItemIdNotFound",
                format!("item id [{item_id}] not found"),
                None,
            )
        }
        Err(error) => return system_exception(error),
    };
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        match state.engine.seed_query_body(&task).await {
            Ok(body) => out.push(BatchTask {
                task_id: task.id.to_string(),
                body,
            }),
            Err(error) => return system_exception(error),
        }
    }
    let status = BatchStatus {
        code: "Success",
        message: "handle success",
        item_id,
        tasks: out,
    };
    (StatusCode::OK, Json(status)).into_response()
}
