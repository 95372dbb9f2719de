//! `/api/v1/admin/domains`: domains, their users and edge groups.

use axum::extract::State;
use axum::Json;
use engine::store::DomainInfo;
use engine::Actor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routes::v1::auth::{Admin, JsonBody};
use crate::routes::v1::error::V1Error;
use crate::state::AppState;

/// A domain with its users and groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainView {
    /// Host name.
    pub host: String,
    /// Users who may purge it.
    pub users: Vec<String>,
    /// Groups that serve it.
    pub groups: Vec<String>,
}

impl From<DomainInfo> for DomainView {
    fn from(domain: DomainInfo) -> Self {
        Self {
            host: domain.host.to_string(),
            users: domain.users,
            groups: domain.groups,
        }
    }
}

/// Every domain.
#[utoipa::path(get, path = "/api/v1/admin/domains", tag = "admin", responses((status = 200, body = Vec<DomainView>)), security(("bearer" = [])))]
pub async fn list_domains(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<DomainView>>, V1Error> {
    let domains = state.engine.list_domains().await?;
    Ok(Json(domains.into_iter().map(DomainView::from).collect()))
}

/// A domain to create or extend.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DomainRequest {
    /// Host name (`www.example.com` or `*.example.com`).
    pub host: String,
    /// Users to add.
    pub users: Vec<String>,
    /// Groups to add.
    pub groups: Vec<String>,
}

/// Creates a domain or adds users and groups to it.
#[utoipa::path(post, path = "/api/v1/admin/domains", tag = "admin", request_body = DomainRequest, responses((status = 200, body = DomainView)), security(("bearer" = [])))]
pub async fn add_domain(
    State(state): State<AppState>,
    Admin(admin): Admin,
    JsonBody(request): JsonBody<DomainRequest>,
) -> Result<Json<DomainView>, V1Error> {
    let domain = state
        .engine
        .add_domain(
            &Actor::with_key(&admin.user, &admin.key.public_id),
            &request.host,
            &request.users,
            &request.groups,
        )
        .await?;
    Ok(Json(DomainView::from(domain)))
}
