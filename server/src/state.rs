//! What every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use engine::Engine;
use leptos::prelude::LeptosOptions;

use crate::config::ApiConfig;
use crate::rate_limit::RateLimiter;

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
}
