//! `POST /api/v1/prefetches` and `GET /api/v1/prefetches/{id}`: URLs fetched through the edges
//! (预热), answered and read like purges.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use engine::submit::{Source, Submission};
use engine::target::TargetKind;

use super::auth::{Caller, JsonBody};
use super::error::{ErrorBody, V1Error};
use super::extract::{V1Path, V1Query};
use super::purges::{batch_view, caller_zone, submit_as, WaitQuery};
use super::views::{BatchView, PrefetchRequest, PurgeResponse};
use crate::state::AppState;

/// Prefetches URLs through every edge of their domains (at most
/// `prefetch.per_domain_in_flight` requests of one domain at once); what fits in the quota is
/// accepted.
#[utoipa::path(
    post, path = "/api/v1/prefetches", tag = "prefetches", operation_id = "submitPrefetch", request_body = PrefetchRequest,
    responses(
        (status = 200, description = "Accepted in whole or in part; see `refused`", body = PurgeResponse),
        (status = 400, description = "Invalid request (`invalid_request`)", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The user or key may not (`forbidden`, `key_read_only`, `key_not_allowed`), or the callback's host does not resolve to an address the server may call (`callback_not_allowed`)", body = ErrorBody),
        (status = 404, description = "A named edge group does not serve a URL's domain (`unknown_group`)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<PrefetchRequest>,
) -> Result<Json<PurgeResponse>, V1Error> {
    let zone = caller_zone(&headers, &caller.user, state.engine.time_zone())?;
    let targets = request
        .urls
        .into_iter()
        .map(|url| (TargetKind::Prefetch, url))
        .collect();
    let submission = Submission {
        callback_url: request.callback_url,
        idempotency_key: request.idempotency_key,
        api_key_id: Some(caller.key.id),
        key_scope: caller.key.scope.clone(),
        groups: request.groups,
        ..Submission::new(Source::V1, targets)
    };
    submit_as(&state, &caller, &zone, submission)
        .await
        .map(Json)
}

/// A prefetch batch and its tasks; with `wait`, once every task is final (or the wait is over).
#[utoipa::path(
    get, path = "/api/v1/prefetches/{id}", tag = "prefetches", operation_id = "getPrefetchBatch",
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
