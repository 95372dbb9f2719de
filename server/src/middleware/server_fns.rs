//! Server functions answer every error with status 500 and the error in the body. Those that are
//! the caller's fault get their 4xx here (the dashboard reads the body either way), and bodies
//! larger than any dashboard form are refused before they are read.

use std::collections::HashSet;
use std::sync::LazyLock;

use app::api::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The largest body a server function accepts, in bytes.
pub const MAX_BODY_BYTES: u64 = 256 * 1024;

/// The largest error body read back to find its status.
const MAX_ERROR_BYTES: usize = 64 * 1024;

static PATHS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path)
        .collect()
});

/// Whether `path` is a server function's.
pub fn is_server_fn(path: &str) -> bool {
    PATHS.contains(path)
}

/// The status an error of a server function stands for.
fn status_of(error: &AppError) -> StatusCode {
    match error {
        AppError::Unauthorized => StatusCode::UNAUTHORIZED,
        AppError::Forbidden => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        // Transport: the arguments could not be read, so the function never ran.
        AppError::Invalid(_) | AppError::Transport(_) => StatusCode::BAD_REQUEST,
        AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Limits server function bodies and gives their errors a status that says whose fault it was.
pub async fn statuses(request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !PATHS.contains(request.uri().path()) {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        let error = AppError::Invalid(format!("the request is larger than {MAX_BODY_BYTES} bytes"));
        (StatusCode::PAYLOAD_TOO_LARGE, Json(error)).into_response()
    };
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return too_large();
    }
    // A chunked body declares no length: read it here, up to the limit, before the function does.
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES as usize).await else {
        return too_large();
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BYTES).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = status_of(&error);
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_internal_errors_stay_500() {
        assert_eq!(status_of(&AppError::Unauthorized), StatusCode::UNAUTHORIZED);
        assert_eq!(
            status_of(&AppError::Invalid("x".into())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(&AppError::Transport("x".into())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(&AppError::Internal),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status_of(&AppError::RateLimited("x".into())),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(status_of(&AppError::Busy), StatusCode::SERVICE_UNAVAILABLE);
    }
}
