//! `/api/v1/admin/…`: users, keys, quotas, domains, edge groups and nodes, audit log.
//! Admin users' keys only; every change is audited by the engine.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use engine::fleet::{NodeId, Protocol};
use engine::store::{AuditFilter, UserUpdate};
use engine::users::{QuotaLimits, QuotaOverrides, Role, User};
use engine::Actor;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Admin, JsonBody};
use super::error::{ErrorBody, V1Error};
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

fn user_view(user: &User, defaults: &QuotaLimits) -> UserView {
    UserView {
        username: user.username.clone(),
        role: user.role.as_str().to_owned(),
        enabled: user.enabled,
        can_purge: user.can_purge,
        time_zone: user.time_zone.clone(),
        quota: user.quota.resolve(defaults),
    }
}

async fn find_user(state: &AppState, name: &str) -> Result<User, V1Error> {
    state
        .engine
        .user_by_name(name)
        .await?
        .ok_or_else(|| V1Error::not_found(format!("user {name}")))
}

fn parse_role(role: &str) -> Result<Role, V1Error> {
    Role::parse(role).ok_or_else(|| V1Error::invalid("role is admin or developer"))
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
            .map(|u| user_view(u, &defaults))
            .collect(),
    ))
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// Login name.
    pub username: String,
    /// `admin` or `developer`.
    pub role: String,
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
    let role = parse_role(&request.role)?;
    let user = state
        .engine
        .create_user(
            &Actor::user(&admin.user),
            &request.username,
            role,
            request.password.as_deref(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(user_view(&user, &state.engine.config().quota)),
    ))
}

/// Changes to a user.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UserChange {
    /// `admin` or `developer`.
    pub role: Option<String>,
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
    Path(username): Path<String>,
    JsonBody(change): JsonBody<UserChange>,
) -> Result<Json<UserView>, V1Error> {
    let user = find_user(&state, &username).await?;
    let update = UserUpdate {
        role: change.role.as_deref().map(parse_role).transpose()?,
        enabled: change.enabled,
        can_purge: change.can_purge,
        time_zone: change.time_zone,
        ..Default::default()
    };
    let user = state
        .engine
        .update_user(
            &Actor::user(&admin.user),
            user.id,
            update,
            change.password.as_deref(),
        )
        .await?;
    Ok(Json(user_view(&user, &state.engine.config().quota)))
}

/// Sets a user's quota limits; absent fields fall back to the defaults.
#[utoipa::path(put, path = "/api/v1/admin/users/{username}/quota", tag = "admin", params(("username" = String, Path)), request_body(content = Object, description = "url, prefix, regex, batch"), responses((status = 200, body = UserView)), security(("bearer" = [])))]
pub async fn set_quota(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(username): Path<String>,
    JsonBody(quota): JsonBody<QuotaOverrides>,
) -> Result<Json<UserView>, V1Error> {
    let user = find_user(&state, &username).await?;
    let user = state
        .engine
        .set_quota(&Actor::user(&admin.user), user.id, quota)
        .await?;
    Ok(Json(user_view(&user, &state.engine.config().quota)))
}

/// An API key without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// Public id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Created at (RFC 3339).
    pub created_at: String,
    /// Last used at.
    pub last_used_at: Option<String>,
    /// Revoked at.
    pub revoked_at: Option<String>,
}

/// A user's keys.
#[utoipa::path(get, path = "/api/v1/admin/users/{username}/keys", tag = "admin", params(("username" = String, Path)), responses((status = 200, body = Vec<KeyView>)), security(("bearer" = [])))]
pub async fn list_keys(
    State(state): State<AppState>,
    _admin: Admin,
    Path(username): Path<String>,
) -> Result<Json<Vec<KeyView>>, V1Error> {
    let user = find_user(&state, &username).await?;
    let keys = state.engine.list_keys(user.id).await?;
    Ok(Json(
        keys.into_iter()
            .map(|k| KeyView {
                id: k.public_id,
                label: k.label,
                created_at: k.created_at.to_rfc3339(),
                last_used_at: k.last_used_at.map(|t| t.to_rfc3339()),
                revoked_at: k.revoked_at.map(|t| t.to_rfc3339()),
            })
            .collect(),
    ))
}

/// A key to create, or an existing key to import.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NewKeyRequest {
    /// Label.
    pub label: String,
    /// An existing key of the old systems to carry over as is.
    pub import: Option<String>,
}

/// The created key: its secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// Public id.
    pub id: String,
    /// The key (only for generated keys).
    pub key: Option<String>,
}

/// Creates (or imports) a key for a user.
#[utoipa::path(post, path = "/api/v1/admin/users/{username}/keys", tag = "admin", params(("username" = String, Path)), request_body = NewKeyRequest, responses((status = 201, body = CreatedKey)), security(("bearer" = [])))]
pub async fn create_key(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(username): Path<String>,
    JsonBody(request): JsonBody<NewKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), V1Error> {
    let user = find_user(&state, &username).await?;
    let actor = Actor::user(&admin.user);
    let created = match request.import {
        Some(key) => {
            let info = state
                .engine
                .import_key(&actor, user.id, &key, &request.label)
                .await?;
            CreatedKey {
                id: info.public_id,
                key: None,
            }
        }
        None => {
            let (info, secret) = state
                .engine
                .create_key(&actor, user.id, &request.label)
                .await?;
            CreatedKey {
                id: info.public_id,
                key: Some(secret.expose().to_owned()),
            }
        }
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes a user's key.
#[utoipa::path(delete, path = "/api/v1/admin/users/{username}/keys/{id}", tag = "admin", params(("username" = String, Path), ("id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn revoke_key(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path((username, id)): Path<(String, String)>,
) -> Result<StatusCode, V1Error> {
    let user = find_user(&state, &username).await?;
    state
        .engine
        .revoke_key(&Actor::user(&admin.user), user.id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

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

/// Every domain.
#[utoipa::path(get, path = "/api/v1/admin/domains", tag = "admin", responses((status = 200, body = Vec<DomainView>)), security(("bearer" = [])))]
pub async fn list_domains(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<DomainView>>, V1Error> {
    let domains = state.engine.list_domains().await?;
    Ok(Json(
        domains
            .into_iter()
            .map(|d| DomainView {
                host: d.host.to_string(),
                users: d.users,
                groups: d.groups,
            })
            .collect(),
    ))
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
            &Actor::user(&admin.user),
            &request.host,
            &request.users,
            &request.groups,
        )
        .await?;
    Ok(Json(DomainView {
        host: domain.host.to_string(),
        users: domain.users,
        groups: domain.groups,
    }))
}

/// A node.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeView {
    /// Id.
    pub id: i64,
    /// Address.
    pub ip: String,
    /// Port.
    pub port: u16,
    /// Whether new tasks use it.
    pub enabled: bool,
}

/// A group with its nodes.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    /// Name.
    pub name: String,
    /// Protocol and its options.
    #[schema(value_type = Object)]
    pub protocol: Protocol,
    /// Nodes.
    pub nodes: Vec<NodeView>,
}

/// Every edge group with its nodes.
#[utoipa::path(get, path = "/api/v1/admin/groups", tag = "admin", responses((status = 200, body = Vec<GroupView>)), security(("bearer" = [])))]
pub async fn list_groups(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<GroupView>>, V1Error> {
    let groups = state.engine.list_groups().await?;
    Ok(Json(
        groups
            .into_iter()
            .map(|g| GroupView {
                name: g.group.name,
                protocol: g.group.protocol,
                nodes: g
                    .nodes
                    .into_iter()
                    .map(|n| NodeView {
                        id: n.id.0,
                        ip: n.ip.to_string(),
                        port: n.port,
                        enabled: n.enabled,
                    })
                    .collect(),
            })
            .collect(),
    ))
}

/// Creates a group or changes its protocol; body: `{"protocol":"varnish"}`, `{"protocol":"nginx","prefix_wildcard":true}`, ….
#[utoipa::path(put, path = "/api/v1/admin/groups/{name}", tag = "admin", params(("name" = String, Path)), request_body(content = Object), responses((status = 200, body = GroupView)), security(("bearer" = [])))]
pub async fn upsert_group(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(name): Path<String>,
    JsonBody(protocol): JsonBody<Protocol>,
) -> Result<Json<GroupView>, V1Error> {
    let group = state
        .engine
        .upsert_group(&Actor::user(&admin.user), &name, protocol)
        .await?;
    Ok(Json(GroupView {
        name: group.name,
        protocol: group.protocol,
        nodes: Vec::new(),
    }))
}

/// Nodes to import: CSV lines `ip,port[,enabled]`, or a list.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NodeImportRequest {
    /// CSV text.
    pub csv: Option<String>,
    /// Nodes.
    pub nodes: Vec<NodeLineRequest>,
}

/// One node to import.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NodeLineRequest {
    /// Address.
    pub ip: String,
    /// Port.
    pub port: u16,
    /// Enabled (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportView {
    /// New nodes.
    pub added: u32,
    /// Existing nodes.
    pub updated: u32,
    /// Refused lines: `[line, reason]`.
    pub refused: Vec<(usize, String)>,
}

/// Imports nodes into a group.
#[utoipa::path(post, path = "/api/v1/admin/groups/{name}/nodes", tag = "admin", params(("name" = String, Path)), request_body = NodeImportRequest, responses((status = 200, body = ImportView)), security(("bearer" = [])))]
pub async fn import_nodes(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<NodeImportRequest>,
) -> Result<Json<ImportView>, V1Error> {
    let mut csv = request.csv.unwrap_or_default();
    for node in request.nodes {
        csv.push_str(&format!("\n{},{},{}", node.ip, node.port, node.enabled));
    }
    let report = state
        .engine
        .import_nodes(&Actor::user(&admin.user), &name, &csv)
        .await?;
    Ok(Json(ImportView {
        added: report.added,
        updated: report.updated,
        refused: report.refused,
    }))
}

/// Enables or disables a node.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeChange {
    /// Enabled.
    pub enabled: bool,
}

/// Enables or disables a node.
#[utoipa::path(patch, path = "/api/v1/admin/nodes/{id}", tag = "admin", params(("id" = i64, Path)), request_body = NodeChange, responses((status = 200, body = NodeView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_node(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<i64>,
    JsonBody(change): JsonBody<NodeChange>,
) -> Result<Json<NodeView>, V1Error> {
    let node = state
        .engine
        .set_node_enabled(&Actor::user(&admin.user), NodeId(id), change.enabled)
        .await?;
    Ok(Json(NodeView {
        id: node.id.0,
        ip: node.ip.to_string(),
        port: node.port,
        enabled: node.enabled,
    }))
}

/// Audit log filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct AuditQuery {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only actions starting with this (such as `user.` or `purge.`).
    pub action: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<i64>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// One audit row.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// Row id.
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// Details.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Rows, newest first.
    pub entries: Vec<AuditView>,
    /// Pass as `cursor` for the next page.
    pub next_cursor: Option<i64>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditQuery), responses((status = 200, body = AuditPage)), security(("bearer" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    _admin: Admin,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, V1Error> {
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let filter = AuditFilter {
        actor: query.actor,
        action_prefix: query.action,
        before_id: query.cursor,
        limit: limit + 1,
    };
    let mut entries = state.engine.list_audit(&filter).await?;
    let next_cursor = if entries.len() > limit as usize {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(AuditPage {
        entries: entries
            .into_iter()
            .map(|e| AuditView {
                id: e.id,
                at: e.at.to_rfc3339(),
                actor: e.actor,
                action: e.action,
                subject: e.subject,
                detail: e.detail,
            })
            .collect(),
        next_cursor,
    }))
}
