//! Limits on what a request may carry before any handler sees it.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The most bytes of header names and values one request may send (browsers send a few KiB).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Answers 431 to a request whose headers add up to more than [`MAX_HEADER_BYTES`].
pub async fn header_size(request: Request, next: Next) -> Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > MAX_HEADER_BYTES {
        tracing::warn!(bytes = size, "request headers too large");
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Json(json!({
                "code": "HeadersTooLarge",
                "message": format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"),
            })),
        )
            .into_response();
    }
    next.run(request).await
}
