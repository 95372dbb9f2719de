//! `POST /api/v1/purges`, `GET /api/v1/purges/{id}` and `GET /api/v1/quota`.

use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::Json;
use engine::callback_target::CallbackUrlError;
use engine::submit::{QuotaSnapshot, Source, Submission, SubmitError};
use engine::target::{TargetKind, WholeHost};
use engine::time::Zone;
use engine::users::User;
use engine::EngineError;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Caller, JsonBody};
use super::error::{ErrorBody, V1Error};
use super::extract::{V1Path, V1Query};
use super::views::{
    verdict_views, BatchView, KindQuota, PurgeRequest, PurgeResponse, QuotaView, TaskView,
};
use crate::state::AppState;

/// The zone to show windows in: `X-Time-Zone`, else the user's own.
pub(super) fn caller_zone(
    headers: &HeaderMap,
    user: &User,
    service: &Zone,
) -> Result<Zone, V1Error> {
    match headers.get("x-time-zone").and_then(|v| v.to_str().ok()) {
        Some(text) => Zone::parse(text).map_err(|e| V1Error::invalid(e.to_string())),
        None => Ok(Zone::parse(&user.time_zone).unwrap_or_else(|_| service.clone())),
    }
}

fn quota_view(quota: &QuotaSnapshot, zone: &Zone) -> QuotaView {
    let left = quota.left();
    let kind = |kind: TargetKind| KindQuota {
        limit: quota.limits.daily(kind),
        used: quota.used.get(kind),
        left: left.get(kind),
    };
    QuotaView {
        url: kind(TargetKind::Url),
        prefix: kind(TargetKind::Prefix),
        regex: kind(TargetKind::Regex),
        tag: kind(TargetKind::Tag),
        everything: kind(TargetKind::Everything),
        prefetch: kind(TargetKind::Prefetch),
        per_request: quota.limits.batch,
        window_start: zone.local(quota.day.start),
        window_end: zone.local(quota.day.end - chrono::Duration::seconds(1)),
    }
}

/// Submits URLs, prefixes, regexes, cache tags or everything on a domain; what fits in the quota
/// is accepted.
#[utoipa::path(
    post, path = "/api/v1/purges", tag = "purges", operation_id = "submitPurge", request_body = PurgeRequest,
    responses(
        (status = 200, description = "Accepted in whole or in part; see `refused`", body = PurgeResponse),
        (status = 400, description = "Invalid request (`invalid_request`, `verify_needs_delete`)", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The user or key may not purge this (`forbidden`, `key_read_only`, `key_not_allowed`), `domain` is not the caller's (`not_your_domain`), or the callback's host does not resolve to an address the server may call (`callback_not_allowed`)", body = ErrorBody),
        (status = 404, description = "A named edge group does not serve a domain of the request (`unknown_group`)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<PurgeRequest>,
) -> Result<Json<PurgeResponse>, V1Error> {
    let zone = caller_zone(&headers, &caller.user, state.engine.time_zone())?;
    let targets = request
        .urls
        .into_iter()
        .map(|t| (TargetKind::Url, t))
        .chain(
            request
                .prefixes
                .into_iter()
                .map(|t| (TargetKind::Prefix, t)),
        )
        .chain(request.regexes.into_iter().map(|t| (TargetKind::Regex, t)))
        .chain(request.tags.into_iter().map(|t| (TargetKind::Tag, t)))
        .chain(
            request
                .everything
                .then(|| (TargetKind::Everything, WholeHost::TARGET.to_owned())),
        )
        .collect();
    let submission = Submission {
        targets,
        callback_url: request.callback_url,
        idempotency_key: request.idempotency_key,
        client_task_id: None,
        source: Source::V1,
        api_key_id: Some(caller.key.id),
        key_scope: caller.key.scope.clone(),
        domain: request.domain,
        mode: request.mode.map(Into::into).unwrap_or_default(),
        groups: request.groups,
        verify: request.verify,
        prefetch_after: request.prefetch,
    };
    submit_as(&state, &caller, &zone, submission)
        .await
        .map(Json)
}

/// Submits `submission` for `caller` and words the outcome (purges and prefetches alike).
pub(super) async fn submit_as(
    state: &AppState,
    caller: &Caller,
    zone: &Zone,
    submission: Submission,
) -> Result<PurgeResponse, V1Error> {
    let outcome = state
        .engine
        .submit(&caller.user, submission)
        .await
        .map_err(|error| match error {
            SubmitError::NotAllowed => V1Error::forbidden("this user may not purge"),
            SubmitError::UserDisabled => V1Error::forbidden("user is disabled"),
            SubmitError::KeyNotAllowed(_) => {
                V1Error::new(StatusCode::FORBIDDEN, "key_not_allowed", error.to_string())
            }
            SubmitError::Store(error) => EngineError::Store(error).into(),
            SubmitError::Busy(busy) => EngineError::Busy(busy).into(),
            SubmitError::NotYourDomain(_) => {
                V1Error::new(StatusCode::FORBIDDEN, "not_your_domain", error.to_string())
            }
            SubmitError::Callback(
                CallbackUrlError::Unresolvable(_) | CallbackUrlError::NotPublic(_),
            ) => V1Error::new(
                StatusCode::FORBIDDEN,
                "callback_not_allowed",
                error.to_string(),
            ),
            SubmitError::VerifyNeedsDelete => V1Error::new(
                StatusCode::BAD_REQUEST,
                "verify_needs_delete",
                error.to_string(),
            ),
            SubmitError::UnknownGroup { .. } => {
                V1Error::new(StatusCode::NOT_FOUND, "unknown_group", error.to_string())
            }
            other => V1Error::invalid(other.to_string()),
        })?;
    let (accepted, refused) = verdict_views(&outcome.verdicts);
    Ok(PurgeResponse {
        batch_id: outcome.batch_id.as_ref().map(ToString::to_string),
        replayed: outcome.replayed,
        accepted,
        refused,
        warnings: outcome.warnings,
        quota: quota_view(&outcome.quota, zone),
    })
}

/// How long a batch read may wait for the batch to end.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Seconds (at most 60) to wait until every task of the batch is final; the answer comes as
    /// soon as they are, or after the wait with the state then. Absent or 0: at once.
    #[param(value_type = Option<u64>, maximum = 60)]
    pub wait: Option<String>,
}

/// The longest long poll, in seconds.
pub const MAX_WAIT_SECS: u64 = 60;

impl WaitQuery {
    fn duration(&self) -> Result<Duration, V1Error> {
        let Some(text) = self
            .wait
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Ok(Duration::ZERO);
        };
        match text.parse::<u64>() {
            Ok(secs) if secs <= MAX_WAIT_SECS => Ok(Duration::from_secs(secs)),
            _ => Err(V1Error::invalid(format!(
                "wait must be a whole number of seconds from 0 to {MAX_WAIT_SECS}"
            ))),
        }
    }
}

/// A batch and its tasks; with `wait`, once every task is final (or the wait is over).
#[utoipa::path(
    get, path = "/api/v1/purges/{id}", tag = "purges", operation_id = "getPurgeBatch",
    params(("id" = String, Path, description = "Batch id"), WaitQuery),
    responses((status = 200, body = BatchView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    V1Path(id): V1Path<String>,
    V1Query(wait): V1Query<WaitQuery>,
) -> Result<Json<BatchView>, V1Error> {
    batch_view(&state, &caller, id, &wait).await.map(Json)
}

/// The view of batch `id` for `caller`, after the wait the query asks for.
pub(super) async fn batch_view(
    state: &AppState,
    caller: &Caller,
    id: String,
    wait: &WaitQuery,
) -> Result<BatchView, V1Error> {
    let wait = wait
        .duration()?
        .min(Duration::from_secs(state.api.max_wait_secs));
    let viewer = caller.viewer(state).await?;
    let tasks = state
        .engine
        .batch_tasks_when_final(&id, &viewer, wait)
        .await?
        .ok_or_else(|| V1Error::not_found(format!("batch {id}")))?;
    Ok(BatchView {
        id,
        tasks: tasks.iter().map(TaskView::from).collect(),
    })
}

/// Today's quota per kind, with the day's window in the caller's zone (`X-Time-Zone`).
#[utoipa::path(
    get, path = "/api/v1/quota", tag = "purges", operation_id = "getQuota",
    responses((status = 200, body = QuotaView), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn quota(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Json<QuotaView>, V1Error> {
    let zone = caller_zone(&headers, &caller.user, state.engine.time_zone())?;
    let quota = state.engine.quota_status(&caller.user).await?;
    Ok(Json(quota_view(&quota, &zone)))
}
