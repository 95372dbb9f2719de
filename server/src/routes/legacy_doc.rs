//! `GET /api/openapi-legacy.json`: the OpenAPI document of the two seed APIs, written by hand
//! beside their handlers (`legacy_url.rs`, `legacy_regex.rs`), whose bodies it describes byte
//! for byte; `scripts/api-contract.sh` checks the server against it with schemathesis.

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi_legacy.json");

/// The route serving the document.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/openapi-legacy.json",
        get(|| async { ([(CONTENT_TYPE, "application/json")], DOCUMENT) }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_json_and_names_every_seed_route() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("valid JSON");
        let paths = doc["paths"].as_object().expect("paths");
        for path in [
            "/api/purge",
            "/api/q",
            "/api/content/regular-url/purge",
            "/api/content/regular-url/purge/{item_id}",
        ] {
            assert!(paths.contains_key(path), "{path} is not documented");
        }
    }
}
