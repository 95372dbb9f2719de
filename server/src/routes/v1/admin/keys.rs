//! `/api/v1/admin/users/{username}/keys…`: a user's API keys.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use engine::key_scope::KeyScope;
use engine::store::ApiKeyInfo;
use engine::Actor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routes::v1::auth::{Admin, JsonBody};
use crate::routes::v1::error::{ErrorBody, V1Error};
use crate::routes::v1::extract::V1Path;
use crate::routes::v1::views::KindName;
use crate::state::AppState;

use super::users::find_user;

/// An API key without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// Public id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Created at (RFC 3339).
    pub created_at: String,
    /// Last used at.
    pub last_used_at: Option<String>,
    /// Revoked at.
    pub revoked_at: Option<String>,
    /// What the key may do within its user's rights.
    pub limits: KeyLimits,
}

/// What a key may do within its user's rights; every field absent or false: all it may.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct KeyLimits {
    /// Only these of the user's domains (as registered); absent: all of them.
    #[schema(min_items = 1)]
    pub domains: Option<Vec<String>>,
    /// Only these purge kinds; absent: every kind.
    #[schema(min_items = 1)]
    pub kinds: Option<Vec<KindName>>,
    /// Status and history only: no purge, prefetch, retry or change.
    pub read_only: bool,
}

impl From<KeyScope> for KeyLimits {
    fn from(scope: KeyScope) -> Self {
        Self {
            domains: scope.domains,
            kinds: scope
                .kinds
                .map(|kinds| kinds.into_iter().map(Into::into).collect()),
            read_only: scope.read_only,
        }
    }
}

impl From<KeyLimits> for KeyScope {
    fn from(limits: KeyLimits) -> Self {
        Self {
            domains: limits.domains,
            kinds: limits
                .kinds
                .map(|kinds| kinds.into_iter().map(Into::into).collect()),
            read_only: limits.read_only,
        }
    }
}

impl From<ApiKeyInfo> for KeyView {
    fn from(key: ApiKeyInfo) -> Self {
        Self {
            id: key.public_id,
            label: key.label,
            created_at: key.created_at.to_rfc3339(),
            last_used_at: key.last_used_at.map(|t| t.to_rfc3339()),
            revoked_at: key.revoked_at.map(|t| t.to_rfc3339()),
            limits: key.scope.into(),
        }
    }
}

/// A user's keys.
#[utoipa::path(get, path = "/api/v1/admin/users/{username}/keys", tag = "admin", params(("username" = String, Path)), responses((status = 200, body = Vec<KeyView>)), security(("bearer" = [])))]
pub async fn list_keys(
    State(state): State<AppState>,
    _admin: Admin,
    V1Path(username): V1Path<String>,
) -> Result<Json<Vec<KeyView>>, V1Error> {
    let user = find_user(&state, &username).await?;
    let keys = state.engine.list_keys(user.id).await?;
    Ok(Json(keys.into_iter().map(KeyView::from).collect()))
}

/// A key to create, or an existing key to import.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NewKeyRequest {
    /// Label.
    pub label: String,
    /// An existing key of the old systems to carry over as is (always without limits).
    pub import: Option<String>,
    /// Limits of a generated key.
    #[serde(deserialize_with = "crate::routes::v1::extract::object")]
    pub limits: KeyLimits,
}

/// The created key: its secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// Public id.
    pub id: String,
    /// The key (only for generated keys).
    pub key: Option<String>,
}

/// Creates (or imports) a key for a user.
#[utoipa::path(post, path = "/api/v1/admin/users/{username}/keys", tag = "admin", params(("username" = String, Path)), request_body = NewKeyRequest, responses((status = 201, body = CreatedKey), (status = 409, description = "The user holds the most live keys there may be (`limit_reached`)", body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_key(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Path(username): V1Path<String>,
    JsonBody(request): JsonBody<NewKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), V1Error> {
    let user = find_user(&state, &username).await?;
    let actor = Actor::with_key(&admin.user, &admin.key.public_id);
    let created = match request.import {
        Some(_)
            if request.limits.domains.is_some()
                || request.limits.kinds.is_some()
                || request.limits.read_only =>
        {
            return Err(V1Error::invalid(
                "an imported key keeps what it could do: limits apply to generated keys only",
            ));
        }
        Some(key) => {
            let info = state
                .engine
                .import_key(&actor, user.id, &key, &request.label)
                .await?;
            CreatedKey {
                id: info.public_id,
                key: None,
            }
        }
        None => {
            let (info, secret) = state
                .engine
                .create_scoped_key(&actor, user.id, &request.label, request.limits.into())
                .await?;
            CreatedKey {
                id: info.public_id,
                key: Some(secret.expose().to_owned()),
            }
        }
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes a user's key.
#[utoipa::path(delete, path = "/api/v1/admin/users/{username}/keys/{id}", tag = "admin", params(("username" = String, Path), ("id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn revoke_key(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Path((username, id)): V1Path<(String, String)>,
) -> Result<StatusCode, V1Error> {
    let user = find_user(&state, &username).await?;
    state
        .engine
        .revoke_key(
            &Actor::with_key(&admin.user, &admin.key.public_id),
            user.id,
            &id,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
