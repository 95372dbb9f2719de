//! Sign-in, sign-out, the current user and password changes.

use leptos::prelude::*;

use super::error::AppError;
use crate::models::SessionUser;

/// Checks the password and sets the session cookie (the page then loads the overview).
#[server]
pub async fn sign_in(username: String, password: String) -> Result<(), AppError> {
    use http::header::SET_COOKIE;
    use http::HeaderValue;

    use super::context::{engine, SESSION_COOKIE};

    let engine = engine()?;
    let (user, token) = engine
        .sign_in(username.trim(), &password)
        .await?
        .map_err(|failure| AppError::Invalid(failure.to_string()))?;
    let max_age = i64::from(engine.config().session_hours.max(1)) * 3600;
    let cookie =
        format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}");
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.insert_header(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| AppError::Internal)?,
    );
    tracing::info!(user = %user.username, "signed in");
    Ok(())
}

/// Ends the session and clears the cookie.
#[server]
pub async fn sign_out() -> Result<(), AppError> {
    use http::header::SET_COOKIE;
    use http::HeaderValue;

    use super::context::{engine, session_token, SESSION_COOKIE};

    if let Some(token) = session_token() {
        engine()?.sign_out(&token).await?;
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.insert_header(
        SET_COOKIE,
        HeaderValue::from_static("purger_session=; Path=/; Max-Age=0"),
    );
    response.append_header(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| AppError::Internal)?,
    );
    leptos_axum::redirect("/login");
    Ok(())
}

/// The signed-in user, `None` when nobody is.
#[server]
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    match super::context::user().await {
        Ok(user) => Ok(Some(SessionUser {
            is_admin: user.role == engine::users::Role::Admin,
            username: user.username,
            time_zone: user.time_zone,
        })),
        Err(AppError::Unauthorized) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Changes the signed-in user's password.
#[server]
pub async fn change_password(current: String, new_password: String) -> Result<(), AppError> {
    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    if engine
        .authenticate_password(&user.username, &current)
        .await?
        .is_none()
    {
        return Err(AppError::Invalid("the current password is wrong".into()));
    }
    engine
        .update_user(
            &engine::Actor::user(&user),
            user.id,
            Default::default(),
            Some(&new_password),
        )
        .await?;
    Ok(())
}
