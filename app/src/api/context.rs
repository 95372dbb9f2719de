//! What server functions take from the request: the engine and the signed-in user.

use engine::users::{Role, User};
use engine::Engine;
use leptos::prelude::*;

use super::error::AppError;

/// The name of the session cookie over plain HTTP.
pub const SESSION_COOKIE: &str = "purger_session";
/// Its name when cookies are `Secure`: the `__Host-` prefix makes browsers refuse it from
/// plain HTTP, from another path and from subdomains.
pub const SECURE_SESSION_COOKIE: &str = "__Host-purger_session";

/// How the session cookie is set; the server puts it into the context of every request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CookiePolicy {
    /// `Secure` and the `__Host-` prefix (the site is served over HTTPS).
    pub secure: bool,
}

impl CookiePolicy {
    /// The session cookie's name.
    pub fn name(self) -> &'static str {
        if self.secure {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    /// The `Set-Cookie` value carrying `token` for `max_age` seconds (0 clears it).
    pub fn set_cookie(self, token: &str, max_age: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
            self.name()
        )
    }

    /// The `Set-Cookie` value keeping the dashboard's language for a year. Readable by pages
    /// and sent on navigations from other sites (`Lax`): it only picks words.
    pub fn language_cookie(self, locale: crate::i18n::Locale) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={}; Path=/; SameSite=Lax; Max-Age=31536000{secure}",
            crate::i18n::LOCALE_COOKIE,
            locale.tag()
        )
    }
}

/// The client's address as the server determined it (the peer, or what a trusted proxy says in
/// `X-Forwarded-For`); the server puts it into every request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

/// The engine the server put into the context of every request.
pub(crate) fn engine() -> Result<Engine, AppError> {
    use_context::<Engine>().ok_or_else(|| {
        tracing::error!("engine missing from the request context");
        AppError::Internal
    })
}

/// The cookie policy in force.
pub(crate) fn cookie_policy() -> CookiePolicy {
    use_context::<CookiePolicy>().unwrap_or_default()
}

/// The session token of the request's cookie.
pub(crate) fn session_token() -> Option<String> {
    session_token_from(
        &use_context::<http::request::Parts>()?.headers,
        cookie_policy(),
    )
}

/// The client's address (unspecified when the server did not say).
pub(crate) fn client_ip() -> std::net::IpAddr {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientIp>().copied())
        .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |client| client.0)
}

/// The session token in `headers`' cookies under `policy`'s name (the server's own routes use
/// it too).
pub fn session_token_from(headers: &http::HeaderMap, policy: CookiePolicy) -> Option<String> {
    cookies(headers)
        .find(|(name, _)| *name == policy.name())
        .map(|(_, value)| value.to_owned())
}

/// Whether `headers` carry a session cookie of either name.
pub fn has_session_cookie(headers: &http::HeaderMap) -> bool {
    cookies(headers).any(|(name, _)| name == SESSION_COOKIE || name == SECURE_SESSION_COOKIE)
}

/// Every cookie of `headers`, `(name, value)`.
pub fn cookies(headers: &http::HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
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

/// A time in the user's zone, written as the request's language writes dates:
/// `2026-12-01 18:26:46` in English, `2026年12月1日 18:26:46` in Chinese.
pub(crate) fn local_time(at: chrono::DateTime<chrono::Utc>, zone: &engine::time::Zone) -> String {
    let format = match crate::i18n::initial_locale() {
        crate::i18n::Locale::En => "%Y-%m-%d %H:%M:%S",
        crate::i18n::Locale::ZhCn => "%Y年%-m月%-d日 %H:%M:%S",
    };
    zone.local(at).format(format).to_string()
}
