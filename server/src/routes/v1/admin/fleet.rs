//! `/api/v1/admin/groups…` and `/api/v1/admin/nodes/{id}`: edge groups and their nodes.

use axum::extract::State;
use axum::Json;
use engine::fleet::{EdgeNode, NodeId, Protocol};
use engine::store::GroupWithNodes;
use engine::{Actor, NodeImport};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routes::v1::auth::{Admin, JsonBody};
use crate::routes::v1::error::{ErrorBody, V1Error};
use crate::routes::v1::extract::V1Path;
use crate::state::AppState;

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

impl From<EdgeNode> for NodeView {
    fn from(node: EdgeNode) -> Self {
        Self {
            id: node.id.0,
            ip: node.ip.to_string(),
            port: node.port,
            enabled: node.enabled,
        }
    }
}

impl From<GroupWithNodes> for GroupView {
    fn from(group: GroupWithNodes) -> Self {
        Self {
            name: group.group.name,
            protocol: group.group.protocol,
            nodes: group.nodes.into_iter().map(NodeView::from).collect(),
        }
    }
}

/// Every edge group with its nodes.
#[utoipa::path(get, path = "/api/v1/admin/groups", tag = "admin", responses((status = 200, body = Vec<GroupView>)), security(("bearer" = [])))]
pub async fn list_groups(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<GroupView>>, V1Error> {
    let groups = state.engine.list_groups().await?;
    Ok(Json(groups.into_iter().map(GroupView::from).collect()))
}

/// Creates a group or changes its protocol; body: `{"protocol":"varnish"}`, `{"protocol":"nginx","prefix_wildcard":true}`, ….
#[utoipa::path(put, path = "/api/v1/admin/groups/{name}", tag = "admin", params(("name" = String, Path)), request_body(content = Object), responses((status = 200, body = GroupView)), security(("bearer" = [])))]
pub async fn upsert_group(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Path(name): V1Path<String>,
    JsonBody(body): JsonBody<serde_json::Map<String, serde_json::Value>>,
) -> Result<Json<GroupView>, V1Error> {
    let protocol = protocol_of(body)?;
    let group = state
        .engine
        .upsert_group(
            &Actor::with_key(&admin.user, &admin.key.public_id),
            &name,
            protocol,
        )
        .await?;
    Ok(Json(GroupView::from(GroupWithNodes {
        group,
        nodes: Vec::new(),
    })))
}

/// The protocol a body describes; a field that protocol does not have is refused (serde lets
/// one through beside a preset without options, such as `{"protocol":"ats","x":1}`).
fn protocol_of(body: serde_json::Map<String, serde_json::Value>) -> Result<Protocol, V1Error> {
    let sent: Vec<String> = body.keys().cloned().collect();
    let protocol: Protocol = serde_json::from_value(serde_json::Value::Object(body))
        .map_err(|e| V1Error::invalid(format!("invalid protocol: {e}")))?;
    let known = serde_json::to_value(&protocol).unwrap_or_default();
    match sent
        .iter()
        .find(|field| known.get(field.as_str()).is_none())
    {
        Some(field) => Err(V1Error::invalid(format!(
            "{} takes no field {field:?}",
            protocol.name()
        ))),
        None => Ok(protocol),
    }
}

/// Nodes to import: CSV lines `ip,port[,enabled]`, or a list.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NodeImportRequest {
    /// CSV text.
    pub csv: Option<String>,
    /// Nodes.
    #[serde(deserialize_with = "crate::routes::v1::extract::objects")]
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
    /// Refused lines.
    pub refused: Vec<RefusedLine>,
}

/// A line of an import that was refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedLine {
    /// Its number, from 1.
    pub line: usize,
    /// Why.
    pub reason: String,
}

impl From<NodeImport> for ImportView {
    fn from(report: NodeImport) -> Self {
        Self {
            added: report.added,
            updated: report.updated,
            refused: report
                .refused
                .into_iter()
                .map(|(line, reason)| RefusedLine { line, reason })
                .collect(),
        }
    }
}

/// Imports nodes into a group.
#[utoipa::path(post, path = "/api/v1/admin/groups/{name}/nodes", tag = "admin", params(("name" = String, Path)), request_body = NodeImportRequest, responses((status = 200, body = ImportView)), security(("bearer" = [])))]
pub async fn import_nodes(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Path(name): V1Path<String>,
    JsonBody(request): JsonBody<NodeImportRequest>,
) -> Result<Json<ImportView>, V1Error> {
    let mut csv = request.csv.unwrap_or_default();
    for node in request.nodes {
        csv.push_str(&format!("\n{},{},{}", node.ip, node.port, node.enabled));
    }
    let report = state
        .engine
        .import_nodes(
            &Actor::with_key(&admin.user, &admin.key.public_id),
            &name,
            &csv,
        )
        .await?;
    Ok(Json(ImportView::from(report)))
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
    V1Path(id): V1Path<i64>,
    JsonBody(change): JsonBody<NodeChange>,
) -> Result<Json<NodeView>, V1Error> {
    let node = state
        .engine
        .set_node_enabled(
            &Actor::with_key(&admin.user, &admin.key.public_id),
            NodeId(id),
            change.enabled,
        )
        .await?;
    Ok(Json(NodeView::from(node)))
}
