//! A signed-in person's saved language wins over a browser's older language cookie: a page
//! request whose session's user saved another language is rendered in the saved one, and its
//! answer sets the cookie to it. So a language chosen in one browser reaches the others at
//! their next page, not only at their next sign-in.

use app::api::context::{cookies, session_token_from};
use app::i18n::{Locale, LOCALE_COOKIE};
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT, COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Renders pages in the signed-in user's saved language (see the module's documentation).
pub async fn saved_language(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let saved = match page_session(&request, &state) {
        Some(token) => saved_locale(&state, &token).await,
        None => None,
    };
    let Some(saved) = saved.filter(|l| cookie_locale(&request) != Some(*l)) else {
        return next.run(request).await;
    };
    let cookies = replaced_language(&request, saved);
    if let Ok(value) = HeaderValue::from_str(&cookies) {
        request.headers_mut().remove(COOKIE);
        request.headers_mut().insert(COOKIE, value);
    }
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&state.cookies.language_cookie(saved)) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// The session token of a page navigation (a `GET` asking for HTML), if it carries one.
fn page_session(request: &Request, state: &AppState) -> Option<String> {
    let wants_html = request
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if request.method() != Method::GET || !wants_html {
        return None;
    }
    session_token_from(request.headers(), state.cookies)
}

/// The language the session's user saved, if any (nothing when the session is unknown or the
/// database does not answer: the page then speaks the cookie's language).
async fn saved_locale(state: &AppState, token: &str) -> Option<Locale> {
    match state.engine.session_user(token).await {
        Ok(user) => user?.locale.as_deref().and_then(Locale::parse),
        Err(error) => {
            tracing::debug!(%error, "reading a session for its language failed");
            None
        }
    }
}

/// The language the request's cookie asks for.
fn cookie_locale(request: &Request) -> Option<Locale> {
    cookies(request.headers())
        .find(|(name, _)| *name == LOCALE_COOKIE)
        .and_then(|(_, value)| Locale::parse(value))
}

/// The request's cookies with the language one set to `locale`.
fn replaced_language(request: &Request, locale: Locale) -> String {
    let mut pairs: Vec<String> = cookies(request.headers())
        .filter(|(name, _)| *name != LOCALE_COOKIE)
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    pairs.push(format!("{LOCALE_COOKIE}={}", locale.tag()));
    pairs.join("; ")
}
