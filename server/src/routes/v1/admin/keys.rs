//! `/api/v1/admin/users/{username}/keys…`: a user's API keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use engine::store::ApiKeyInfo;
use engine::Actor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routes::v1::auth::{Admin, JsonBody};
use crate::routes::v1::error::{ErrorBody, V1Error};
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
}

impl From<ApiKeyInfo> for KeyView {
    fn from(key: ApiKeyInfo) -> Self {
        Self {
            id: key.public_id,
            label: key.label,
            created_at: key.created_at.to_rfc3339(),
            last_used_at: key.last_used_at.map(|t| t.to_rfc3339()),
            revoked_at: key.revoked_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// A user's keys.
#[utoipa::path(get, path = "/api/v1/admin/users/{username}/keys", tag = "admin", params(("username" = String, Path)), responses((status = 200, body = Vec<KeyView>)), security(("bearer" = [])))]
pub async fn list_keys(
    State(state): State<AppState>,
    _admin: Admin,
    Path(username): Path<String>,
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
    /// An existing key of the old systems to carry over as is.
    pub import: Option<String>,
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
#[utoipa::path(post, path = "/api/v1/admin/users/{username}/keys", tag = "admin", params(("username" = String, Path)), request_body = NewKeyRequest, responses((status = 201, body = CreatedKey)), security(("bearer" = [])))]
pub async fn create_key(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(username): Path<String>,
    JsonBody(request): JsonBody<NewKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), V1Error> {
    let user = find_user(&state, &username).await?;
    let actor = Actor::with_key(&admin.user, &admin.key.public_id);
    let created = match request.import {
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
                .create_key(&actor, user.id, &request.label)
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
    Path((username, id)): Path<(String, String)>,
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
