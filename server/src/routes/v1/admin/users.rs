//! `/api/v1/admin/users…`: users, their roles and quotas.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use engine::store::UserUpdate;
use engine::users::{QuotaLimits, QuotaOverrides, Role, User};
use engine::Actor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routes::v1::auth::{Admin, JsonBody};
use crate::routes::v1::error::{ErrorBody, V1Error};
use crate::routes::v1::extract::V1Path;
use crate::state::AppState;

/// A user as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Login name.
    pub username: String,
    /// `admin` or `developer`.
    pub role: String,
    /// Disabled users cannot sign in or use keys.
    pub enabled: bool,
    /// Whether the user may purge.
    pub can_purge: bool,
    /// Preferred time zone.
    pub time_zone: String,
    /// The limits in force.
    #[schema(value_type = Object)]
    pub quota: QuotaLimits,
}

impl UserView {
    /// The view of `user`, with the limits in force under `defaults`.
    pub fn new(user: &User, defaults: &QuotaLimits) -> Self {
        Self {
            username: user.username.clone(),
            role: user.role.as_str().to_owned(),
            enabled: user.enabled,
            can_purge: user.can_purge,
            time_zone: user.time_zone.clone(),
            quota: user.quota.resolve(defaults),
        }
    }
}

/// The user named `name`, or a 404.
pub(super) async fn find_user(state: &AppState, name: &str) -> Result<User, V1Error> {
    state
        .engine
        .user_by_name(name)
        .await?
        .ok_or_else(|| V1Error::not_found(format!("user {name}")))
}

/// A role, as the API names it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// Manages users, keys, domains and the fleet; sees every task.
    Admin,
    /// Purges their own domains.
    Developer,
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Admin => Role::Admin,
            RoleName::Developer => Role::Developer,
        }
    }
}

/// Every user.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", responses((status = 200, body = Vec<UserView>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<UserView>>, V1Error> {
    let defaults = state.engine.config().quota;
    Ok(Json(
        state
            .engine
            .list_users()
            .await?
            .iter()
            .map(|u| UserView::new(u, &defaults))
            .collect(),
    ))
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// Login name.
    pub username: String,
    /// The user's role.
    pub role: RoleName,
    /// Dashboard password (at least 8 characters).
    pub password: Option<String>,
}

/// Creates a user.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", request_body = NewUserRequest, responses((status = 201, body = UserView), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    JsonBody(request): JsonBody<NewUserRequest>,
) -> Result<(StatusCode, Json<UserView>), V1Error> {
    let role = request.role.into();
    let user = state
        .engine
        .create_user(
            &Actor::with_key(&admin.user, &admin.key.public_id),
            &request.username,
            role,
            request.password.as_deref(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(UserView::new(&user, &state.engine.config().quota)),
    ))
}

/// Changes to a user.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UserChange {
    /// A new role.
    pub role: Option<RoleName>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Allow or forbid purging.
    pub can_purge: Option<bool>,
    /// A new dashboard password.
    pub password: Option<String>,
    /// Preferred time zone.
    pub time_zone: Option<String>,
}

/// Changes a user: role, enabled, may purge, password, time zone.
#[utoipa::path(patch, path = "/api/v1/admin/users/{username}", tag = "admin", params(("username" = String, Path)), request_body = UserChange, responses((status = 200, body = UserView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Path(username): V1Path<String>,
    JsonBody(change): JsonBody<UserChange>,
) -> Result<Json<UserView>, V1Error> {
    let user = find_user(&state, &username).await?;
    let update = UserUpdate {
        role: change.role.map(Into::into),
        enabled: change.enabled,
        can_purge: change.can_purge,
        time_zone: change.time_zone,
        ..Default::default()
    };
    let user = state
        .engine
        .update_user(
            &Actor::with_key(&admin.user, &admin.key.public_id),
            user.id,
            update,
            change.password.as_deref(),
        )
        .await?;
    Ok(Json(UserView::new(&user, &state.engine.config().quota)))
}

/// Sets a user's quota limits; absent fields fall back to the defaults.
#[utoipa::path(put, path = "/api/v1/admin/users/{username}/quota", tag = "admin", params(("username" = String, Path)), request_body(content = Object, description = "url, prefix, regex, tag, everything, batch"), responses((status = 200, body = UserView)), security(("bearer" = [])))]
pub async fn set_quota(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Path(username): V1Path<String>,
    JsonBody(quota): JsonBody<QuotaOverrides>,
) -> Result<Json<UserView>, V1Error> {
    let user = find_user(&state, &username).await?;
    let user = state
        .engine
        .set_quota(
            &Actor::with_key(&admin.user, &admin.key.public_id),
            user.id,
            quota,
        )
        .await?;
    Ok(Json(UserView::new(&user, &state.engine.config().quota)))
}
