//! The v1 error: JSON `{code, message}` with a stable code; causes are logged, not shown.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use engine::EngineError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, such as `unauthorized` or `invalid_request`.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

/// A v1 error with its HTTP status.
#[derive(Debug)]
pub struct V1Error {
    status: StatusCode,
    body: ErrorBody,
    retry_after: Option<u64>,
}

impl V1Error {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
            },
            retry_after: None,
        }
    }
    /// 400 `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404 `not_found`.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{} not found", what.into()),
        )
    }
    /// 429 `rate_limited` with `Retry-After`.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "rate limit exceeded",
        );
        error.retry_after = Some(retry_after.max(1));
        error
    }
    /// 500 `internal`; the cause goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "v1 request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl From<EngineError> for V1Error {
    fn from(error: EngineError) -> Self {
        match &error {
            EngineError::Invalid(message) => Self::invalid(message.clone()),
            EngineError::NotFound(what) => Self::not_found(what.clone()),
            EngineError::Store(engine::store::StoreError::Conflict(what)) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            EngineError::Store(engine::store::StoreError::NotFound(what)) => {
                Self::not_found(what.clone())
            }
            EngineError::LimitReached(message) => {
                Self::new(StatusCode::CONFLICT, "limit_reached", message.clone())
            }
            EngineError::SelfLockout(message) => {
                Self::new(StatusCode::CONFLICT, "self_lockout", *message)
            }
            EngineError::Key(engine::keys::KeyError::InvalidKey) => {
                Self::invalid(error.to_string())
            }
            _ if error.is_unavailable() => {
                tracing::warn!(%error, "database unavailable");
                let mut unavailable = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is busy or unreachable; try again",
                );
                unavailable.retry_after = Some(1);
                unavailable
            }
            _ => Self::internal(error),
        }
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert("Retry-After", value);
            }
        }
        response
    }
}
