//! Sign-in, sign-out, the language and password changes.

use leptos::prelude::*;

use super::error::AppError;

/// Checks the password and sets the session cookie (the page then loads the overview).
#[server]
pub async fn sign_in(username: String, password: String) -> Result<(), AppError> {
    use engine::SignInFailure;

    use super::context::{client_ip, engine};

    let engine = engine()?;
    let (user, token) = engine
        .sign_in(username.trim(), &password, client_ip())
        .await?
        .map_err(|failure| match failure {
            SignInFailure::Throttled | SignInFailure::AddressThrottled => {
                AppError::RateLimited(failure.to_string())
            }
            SignInFailure::Busy => AppError::Busy,
            SignInFailure::NameTooLong | SignInFailure::BadCredentials => {
                AppError::Invalid(failure.to_string())
            }
        })?;
    set_session_cookie(&token, &engine)?;
    // The saved language goes with the user to every browser they sign in on.
    if let Some(locale) = user.locale.as_deref().and_then(crate::i18n::Locale::parse) {
        append_language_cookie(locale)?;
    }
    tracing::info!(user = %user.username, "signed in");
    Ok(())
}

/// Sets the language cookie for `locale` on the response, beside any other cookie.
#[cfg(feature = "ssr")]
fn append_language_cookie(locale: crate::i18n::Locale) -> Result<(), AppError> {
    let cookie = super::context::cookie_policy().language_cookie(locale);
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.append_header(
        http::header::SET_COOKIE,
        http::HeaderValue::from_str(&cookie).map_err(|_| AppError::Internal)?,
    );
    Ok(())
}

/// Chooses the dashboard's language (`zh-CN`, `en`): a cookie for this browser, and the
/// signed-in user's saved preference.
#[server]
pub async fn set_language(tag: String) -> Result<(), AppError> {
    let locale = crate::i18n::Locale::parse(&tag)
        .ok_or_else(|| AppError::Invalid(format!("unknown language {tag:?}")))?;
    match super::context::user().await {
        Ok(user) => {
            super::context::engine()?
                .set_locale(user.id, locale.tag())
                .await?;
        }
        Err(AppError::Unauthorized) => {}
        Err(error) => return Err(error),
    }
    append_language_cookie(locale)
}

/// Sets the session cookie for `token` on the response.
#[cfg(feature = "ssr")]
fn set_session_cookie(token: &str, engine: &engine::Engine) -> Result<(), AppError> {
    let max_age = i64::from(engine.config().session_hours.max(1)) * 3600;
    let cookie = super::context::cookie_policy().set_cookie(token, max_age);
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.insert_header(
        http::header::SET_COOKIE,
        http::HeaderValue::from_str(&cookie).map_err(|_| AppError::Internal)?,
    );
    Ok(())
}

/// Ends the session and clears the cookie.
#[server]
pub async fn sign_out() -> Result<(), AppError> {
    use super::context::{cookie_policy, engine, session_token};

    if let Some(token) = session_token() {
        engine()?.sign_out(&token).await?;
    }
    let cookie = cookie_policy().set_cookie("", 0);
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.insert_header(
        http::header::SET_COOKIE,
        http::HeaderValue::from_str(&cookie).map_err(|_| AppError::Internal)?,
    );
    leptos_axum::redirect("/login");
    Ok(())
}

/// Changes the signed-in user's password; their other sessions end, this one goes on.
#[server]
pub async fn change_password(current: String, new_password: String) -> Result<(), AppError> {
    let engine = super::context::engine()?;
    let token = super::context::session_token().ok_or(AppError::Unauthorized)?;
    let token = engine
        .change_password(&token, &current, &new_password, super::context::client_ip())
        .await?
        .ok_or_else(|| AppError::Invalid("the current password is wrong".into()))?;
    set_session_cookie(&token, &engine)
}
