//! The native JSON API, v1: bearer keys, stable error codes, an OpenAPI 3.1 document generated
//! from the handlers themselves (every route is registered through `routes!`, which documents it).

pub mod admin;
pub mod auth;
pub mod contract;
pub mod error;
pub mod extract;
pub mod prefetches;
pub mod purges;
pub mod tasks;
pub mod views;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Purger API", description = "Purge exact URLs, prefixes and URL regexes on every edge that serves your domains."),
    modifiers(&BearerAuth),
    tags((name = "purges"), (name = "prefetches"), (name = "tasks"), (name = "admin", description = "Admin users' keys only"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The v1 routes and their OpenAPI document.
pub fn routes() -> (Router<AppState>, OpenApiDoc) {
    let router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(purges::submit))
        .routes(routes!(purges::batch))
        .routes(routes!(purges::quota))
        .routes(routes!(prefetches::submit))
        .routes(routes!(prefetches::batch))
        .routes(routes!(tasks::list))
        .routes(routes!(tasks::detail))
        .routes(routes!(tasks::retry));
    let (router, mut doc) = admin::routes(router).split_for_parts();
    contract::SharedResponses.modify(&mut doc);
    (router, doc)
}

/// The v1 router, serving its own document at `/api/v1/openapi.json`.
pub fn router() -> Router<AppState> {
    let (router, doc) = routes();
    // Serialized once: every request gets the same bytes.
    let body = axum::body::Bytes::from(
        serde_json::to_vec(&contract::with_rules(&doc)).unwrap_or_default(),
    );
    router.route(
        "/api/v1/openapi.json",
        get(move || async move { ([(CONTENT_TYPE, "application/json")], body.clone()) }),
    )
}
