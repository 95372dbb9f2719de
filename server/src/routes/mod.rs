//! HTTP routes, one module per API.

pub mod dashboard;
pub mod health;
pub mod legacy_doc;
pub mod legacy_regex;
pub mod legacy_url;
pub mod metrics;
pub mod v1;

use axum::http::StatusCode;
use axum::Json;

/// Unknown API paths answer JSON, not the dashboard's HTML page.
pub async fn not_found() -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"code": "not_found", "message": "no such API route"})),
    )
}
