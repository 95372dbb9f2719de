//! Edge groups and nodes.

use std::collections::HashMap;

use chrono::DateTime;

use super::*;
use crate::fanout::health::NodeHealth;
use crate::fleet_view::HealthSample;

/// Result of importing node lines.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NodeImport {
    /// New nodes.
    pub added: u32,
    /// Nodes that existed.
    pub updated: u32,
    /// Lines refused: line number (from 1) and why.
    pub refused: Vec<(usize, String)>,
}

impl Engine {
    /// Creates an edge group or changes its protocol.
    pub async fn upsert_group(
        &self,
        actor: &Actor,
        name: &str,
        protocol: Protocol,
    ) -> Result<EdgeGroup, EngineError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(EngineError::Invalid(
                "a group name is 1 to 64 characters".into(),
            ));
        }
        let group = self
            .inner
            .store
            .upsert_group(name, &protocol, Utc::now())
            .await?;
        self.audit(
            actor,
            "group.update",
            name,
            serde_json::to_value(&protocol).unwrap_or_default(),
        )
        .await?;
        Ok(group)
    }

    /// Every group with its nodes.
    pub async fn list_groups(&self) -> Result<Vec<GroupWithNodes>, EngineError> {
        Ok(self.inner.store.list_groups().await?)
    }

    /// Imports CSV lines `ip,port[,enabled]` into a group; bad lines are refused one by one.
    pub async fn import_nodes(
        &self,
        actor: &Actor,
        group: &str,
        csv: &str,
    ) -> Result<NodeImport, EngineError> {
        let group = self
            .inner
            .store
            .group_by_name(group)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("edge group {group}")))?;
        let mut lines = Vec::new();
        let mut report = NodeImport::default();
        for (number, line) in csv.lines().enumerate() {
            match NodeLine::parse(line) {
                Ok(Some(line)) => lines.push(line),
                Ok(None) => {}
                Err(error) => report.refused.push((number + 1, error)),
            }
        }
        let counts = self
            .inner
            .store
            .import_nodes(group.id, &lines, Utc::now())
            .await?;
        report.added = counts.added;
        report.updated = counts.updated;
        self.audit(
            actor,
            "nodes.import",
            &group.name,
            serde_json::json!({
                "added": report.added, "updated": report.updated, "refused": report.refused.len(),
            }),
        )
        .await?;
        Ok(report)
    }

    /// Enables or disables a node.
    pub async fn set_node_enabled(
        &self,
        actor: &Actor,
        node: NodeId,
        enabled: bool,
    ) -> Result<EdgeNode, EngineError> {
        let node = self
            .inner
            .store
            .set_node_enabled(node, enabled)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("node {}", node.0)))?;
        let action = if enabled {
            "node.enable"
        } else {
            "node.disable"
        };
        self.audit(
            actor,
            action,
            &format!("{}:{}", node.ip, node.port),
            serde_json::json!({ "node": node.id.0 }),
        )
        .await?;
        Ok(node)
    }

    /// Enables or disables several nodes (each audited as one change); how many changed.
    pub async fn set_nodes_enabled(
        &self,
        actor: &Actor,
        nodes: &[NodeId],
        enabled: bool,
    ) -> Result<usize, EngineError> {
        for node in nodes {
            self.set_node_enabled(actor, *node, enabled).await?;
        }
        Ok(nodes.len())
    }

    /// One page of the fleet with each node's health state (the edges page).
    pub async fn fleet_page(
        &self,
        query: &crate::fleet_view::FleetQuery,
    ) -> Result<crate::fleet_view::FleetPage, EngineError> {
        let groups = self.inner.store.list_groups().await?;
        let health = self.node_health().await?;
        Ok(crate::fleet_view::fleet_page(&groups, &health, query))
    }

    /// The recent results of one node, as the instances that asked it last saw them.
    pub async fn node_health_of(&self, node: NodeId) -> Result<Option<NodeHealth>, EngineError> {
        Ok(self.node_health().await?.remove(&node))
    }

    /// The group of a node set entry (for reports).
    pub async fn group_by_name(&self, name: &str) -> Result<Option<EdgeGroup>, EngineError> {
        Ok(self.inner.store.group_by_name(name).await?)
    }

    /// Recent results per node: what every instance saved (every few seconds; read again at
    /// most as often), with what this instance's workers saw since in its place.
    pub async fn node_health(&self) -> Result<HashMap<NodeId, NodeHealth>, EngineError> {
        let saved = self
            .inner
            .saved_health
            .get(self.inner.store.as_ref())
            .await?;
        Ok(self.inner.health.merged_with(saved.as_ref().clone()))
    }

    /// How many nodes were in each health state, every 10 minutes since `since`, oldest first:
    /// the samples the workers recorded for the slots before this one, and the current slot's
    /// counted now.
    pub async fn fleet_health_history(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<HealthSample>, EngineError> {
        let slot = crate::health_keeper::sample_slot(Utc::now());
        let mut samples = self.inner.store.health_samples(since).await?;
        samples.retain(|s| s.at < slot);
        let groups = self.inner.store.list_groups().await?;
        let health = self.node_health().await?;
        samples.push(crate::fleet_view::health_sample(&groups, &health, slot));
        Ok(samples)
    }

    /// The group id of a name, for callers that manage nodes by group.
    pub async fn group_id(&self, name: &str) -> Result<Option<GroupId>, EngineError> {
        Ok(self.inner.store.group_by_name(name).await?.map(|g| g.id))
    }
}
