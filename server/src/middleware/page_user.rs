//! What a page request needs from its session, looked up once before the page renders: the
//! signed-in user, which the page renders with synchronously (`app/src/components/guard.rs`),
//! and the language the user saved.
//!
//! A signed-in person's saved language wins over a browser's older language cookie: a page
//! request whose session's user saved another language is rendered in the saved one, and its
//! answer sets the cookie to it. So a language chosen in one browser reaches the others at
//! their next page, not only at their next sign-in.

use app::api::context::{cookies, session_token_from};
use app::i18n::{Locale, LOCALE_COOKIE};
use app::models::SessionUser;
use axum::extract::{Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use engine::users::User;

use crate::state::AppState;

/// Puts the session's user into a page request and renders the page in the user's saved
/// language (see the module's documentation).
pub async fn page_user(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let user = match page_session(&request, &state) {
        Some(token) => session_user(&state, &token).await,
        None => None,
    };
    let Some(user) = user else {
        return next.run(request).await;
    };
    request.extensions_mut().insert(SessionUser::from(&user));
    let saved = user.locale.as_deref().and_then(Locale::parse);
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

/// The session token of a page request (a `GET` that is neither a static file nor a server
/// function, which look the session up themselves), if it carries one.
fn page_session(request: &Request, state: &AppState) -> Option<String> {
    let path = request.uri().path();
    if request.method() != Method::GET
        || path.starts_with("/pkg/")
        || super::server_fns::is_server_fn(path)
    {
        return None;
    }
    session_token_from(request.headers(), state.cookies)
}

/// The session's user (nobody when the session is unknown or the database does not answer:
/// the page then renders signed out, in the cookie's language).
async fn session_user(state: &AppState, token: &str) -> Option<User> {
    match state.engine.session_user(token).await {
        Ok(user) => user,
        Err(error) => {
            tracing::warn!(%error, "reading a page's session failed");
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
