//! What every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use engine::Engine;
use leptos::prelude::LeptosOptions;

use crate::config::ApiConfig;
use engine::rate_limit::RateLimiter;

/// The router's state.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// The purge engine.
    pub engine: Engine,
    /// Leptos settings (site root, output name).
    pub leptos_options: LeptosOptions,
    /// Per-key rate limits.
    pub rate_limiter: Arc<RateLimiter>,
    /// API settings.
    pub api: Arc<ApiConfig>,
    /// How the session cookie is named and set.
    pub cookies: app::api::context::CookiePolicy,
}
