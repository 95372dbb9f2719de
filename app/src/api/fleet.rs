//! Admins' server functions for the edges page: a page of the fleet, a node's recent results,
//! enabling and disabling nodes, and importing them.

use leptos::prelude::*;

use super::error::AppError;
use crate::models::{FleetHistory, FleetView, NodeDetail};

/// Nodes per page of the edges page.
pub const NODES_PER_PAGE: usize = 100;

/// One page of the fleet: nodes whose address or group contains `search`, in `state` (empty:
/// any), page `page` from 0; with the count of nodes in each state.
#[server]
pub async fn admin_fleet(
    search: String,
    state: String,
    page: usize,
) -> Result<FleetView, AppError> {
    use engine::fleet_view::{FleetQuery, HealthState};

    use crate::models::{GroupRow, NodeRow};

    let engine = super::context::engine()?;
    let admin = super::context::admin().await?;
    let zone = super::context::zone_of(&admin, &engine);
    let query = FleetQuery {
        search,
        state: HealthState::parse(state.trim()),
        page,
        per_page: NODES_PER_PAGE,
    };
    let fleet = engine.fleet_page(&query).await?;
    let mut groups: Vec<GroupRow> = Vec::new();
    for row in fleet.rows {
        let node = NodeRow {
            id: row.node.id.0,
            addr: std::net::SocketAddr::new(row.node.ip, row.node.port).to_string(),
            enabled: row.node.enabled,
            state: row.state.as_str().into(),
            last_success: row
                .health
                .as_ref()
                .and_then(|h| h.last_success)
                .map(|at| super::context::local_time(at, &zone)),
            failed_percent: row
                .health
                .as_ref()
                .filter(|h| h.recent > 0)
                .map(|h| (h.failure_rate() * 100.0).round() as u32),
            recent: row.health.as_ref().map_or(0, |h| h.recent),
        };
        match groups.last_mut() {
            Some(group) if group.name == row.group => group.nodes.push(node),
            _ => groups.push(GroupRow {
                name: row.group,
                protocol: row.protocol.into(),
                nodes: vec![node],
            }),
        }
    }
    Ok(FleetView {
        counts: fleet
            .counts
            .iter()
            .map(|(state, n)| (state.as_str().to_owned(), *n))
            .collect(),
        matching: fleet.matching,
        total: fleet.total,
        page: fleet.page,
        pages: fleet.pages,
        groups,
    })
}

/// The fleet's health states every 10 minutes of the last 24 hours.
#[server]
pub async fn admin_fleet_history() -> Result<FleetHistory, AppError> {
    use engine::fleet_view::HealthState;

    let engine = super::context::engine()?;
    let admin = super::context::admin().await?;
    let zone = super::context::zone_of(&admin, &engine);
    let since = chrono::Utc::now() - chrono::Duration::hours(24);
    let samples = engine.fleet_health_history(since).await?;
    Ok(FleetHistory {
        states: HealthState::ALL.map(|s| s.as_str().to_owned()).to_vec(),
        samples: samples
            .into_iter()
            .map(|s| {
                (
                    zone.local(s.at).format("%H:%M").to_string(),
                    s.counts.to_vec(),
                )
            })
            .collect(),
    })
}

/// A node's recent results, as the instances that asked it last saw them.
#[server]
pub async fn admin_node(id: i64, addr: String) -> Result<NodeDetail, AppError> {
    let engine = super::context::engine()?;
    let admin = super::context::admin().await?;
    let zone = super::context::zone_of(&admin, &engine);
    let health = engine
        .node_health_of(engine::fleet::NodeId(id))
        .await?
        .unwrap_or_default();
    Ok(NodeDetail {
        id,
        addr,
        last_success: health
            .last_success
            .map(|at| super::context::local_time(at, &zone)),
        last_failure: health
            .last_failure
            .as_ref()
            .map(|(at, why)| (super::context::local_time(*at, &zone), why.clone())),
        outcomes: health.outcomes().collect(),
    })
}

/// Enables or disables the nodes of `ids` (ids separated by commas).
#[server]
pub async fn admin_set_nodes(ids: String, enabled: bool) -> Result<usize, AppError> {
    let engine = super::context::engine()?;
    let admin = super::context::admin().await?;
    let nodes = ids
        .split(',')
        .filter(|id| !id.trim().is_empty())
        .map(|id| id.trim().parse().map(engine::fleet::NodeId))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| AppError::Invalid("node ids are whole numbers".into()))?;
    Ok(engine
        .set_nodes_enabled(&engine::Actor::user(&admin), &nodes, enabled)
        .await?)
}

/// Imports CSV lines `ip,port[,enabled]` into a group (created with `protocol` when new);
/// returns a summary line in the request's language.
#[server]
pub async fn admin_import_nodes(
    group: String,
    protocol: String,
    csv: String,
) -> Result<String, AppError> {
    let engine = super::context::engine()?;
    let admin = super::context::admin().await?;
    let actor = engine::Actor::user(&admin);
    if engine.group_id(group.trim()).await?.is_none() {
        let protocol = engine::fleet::Protocol::preset(&protocol)
            .ok_or_else(|| AppError::Invalid("unknown protocol".into()))?;
        engine.upsert_group(&actor, group.trim(), protocol).await?;
    }
    let report = engine.import_nodes(&actor, group.trim(), &csv).await?;
    let locale = crate::i18n::initial_locale();
    let t = locale.texts();
    let mut summary = (t.import_summary)(report.added, report.updated, report.refused.len());
    for (line, why) in report.refused.iter().take(10) {
        summary.push_str(&(t.import_refused_line)(*line, &locale.message(why)));
    }
    Ok(summary)
}
