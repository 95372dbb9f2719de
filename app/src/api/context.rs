//! What server functions take from the request: the engine and the signed-in user.

use engine::users::{Role, User};
use engine::Engine;
use leptos::prelude::*;

use super::error::AppError;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "purger_session";

/// The engine the server put into the context of every request.
pub(crate) fn engine() -> Result<Engine, AppError> {
    use_context::<Engine>().ok_or_else(|| {
        tracing::error!("engine missing from the request context");
        AppError::Internal
    })
}

/// The session token of the request's cookie.
pub(crate) fn session_token() -> Option<String> {
    session_token_from(&use_context::<http::request::Parts>()?.headers)
}

/// The session token in `headers`' cookies (the server's own routes use it too).
pub fn session_token_from(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The signed-in user, or [`AppError::Unauthorized`].
pub(crate) async fn user() -> Result<User, AppError> {
    let token = session_token().ok_or(AppError::Unauthorized)?;
    engine()?
        .session_user(&token)
        .await?
        .ok_or(AppError::Unauthorized)
}

/// The signed-in admin, or [`AppError::Forbidden`].
pub(crate) async fn admin() -> Result<User, AppError> {
    let user = user().await?;
    if user.role != Role::Admin {
        return Err(AppError::Forbidden);
    }
    Ok(user)
}

/// The user's zone (or the service's).
pub(crate) fn zone_of(user: &User, engine: &Engine) -> engine::time::Zone {
    engine::time::Zone::parse(&user.time_zone).unwrap_or_else(|_| engine.time_zone().clone())
}

/// A time in the user's zone, `YYYY-MM-DD HH:MM:SS`.
pub(crate) fn local_time(at: chrono::DateTime<chrono::Utc>, zone: &engine::time::Zone) -> String {
    zone.local(at).format("%Y-%m-%d %H:%M:%S").to_string()
}
