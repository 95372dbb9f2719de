//! Bearer-key authentication and JSON bodies for v1.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use engine::key_scope::Viewer;
use engine::store::ApiKeyInfo;
use engine::users::User;
use engine::AuthFailure;
use serde::de::DeserializeOwned;

use super::error::V1Error;
use crate::state::AppState;

/// The authenticated caller of a v1 request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The key used.
    pub key: ApiKeyInfo,
    /// Its enabled owner.
    pub user: User,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = V1Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| V1Error::unauthorized("send Authorization: Bearer <api key>"))?;
        match state.engine.authenticate_key(token).await? {
            Ok((key, user)) => {
                state
                    .rate_limiter
                    .check(key.id)
                    .map_err(|wait| V1Error::rate_limited(wait.as_secs() + 1))?;
                let reads = matches!(parts.method, Method::GET | Method::HEAD);
                if !reads && !key.scope.may_write() {
                    return Err(V1Error::new(
                        StatusCode::FORBIDDEN,
                        "key_read_only",
                        "this API key is read-only: it may read status and history only",
                    ));
                }
                Ok(Caller { key, user })
            }
            Err(AuthFailure::UserDisabled) => Err(V1Error::forbidden("user is disabled")),
            Err(_) => Err(V1Error::unauthorized("unknown or revoked API key")),
        }
    }
}

impl Caller {
    /// Whose tasks this caller sees: its user's (everyone's for admins), on the key's domains.
    pub async fn viewer(&self, state: &AppState) -> Result<Viewer, V1Error> {
        Ok(state.engine.key_viewer(&self.user, &self.key.scope).await?)
    }
}

/// An authenticated admin.
#[derive(Clone, Debug)]
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = V1Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.user.is_admin() {
            return Err(V1Error::forbidden("admin API keys only"));
        }
        Ok(Admin(caller))
    }
}

/// A JSON body: `application/json`, at most the configured size, refused with a v1 error.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = V1Error;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let json = request
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(V1Error::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send Content-Type: application/json",
            ));
        }
        let bytes = axum::body::to_bytes(request.into_body(), state.api.max_body_bytes)
            .await
            .map_err(|_| {
                V1Error::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("the body is larger than {} bytes", state.api.max_body_bytes),
                )
            })?;
        super::extract::json_object(&bytes).map(JsonBody)
    }
}
