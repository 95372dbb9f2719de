//! Edge groups, nodes and frozen node sets.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use tracing::instrument;

use super::SqliteStore;
use crate::fleet::{EdgeGroup, EdgeNode, GroupId, NodeId, NodeLine, NodeTarget, Protocol};
use crate::store::claim::WorkTx;
use crate::store::{binds, rows};
use crate::store::{FleetStore, GroupWithNodes, ImportCounts, NodeSet, StoreResult};
use crate::time::to_millis;

#[async_trait]
impl FleetStore for SqliteStore {
    #[instrument(skip(self, lines), fields(lines = lines.len()), err(level = "info"))]
    async fn import_nodes(
        &self,
        group: GroupId,
        lines: &[NodeLine],
        at: DateTime<Utc>,
    ) -> StoreResult<ImportCounts> {
        let lines = lines.to_vec();
        self.transaction(move |tx| {
            Box::pin(async move {
                let before = count_nodes(tx, group).await?;
                for line in &lines {
                    let query = sqlx::query(
                        "INSERT INTO edge_nodes (group_id, ip, port, enabled, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (group_id, ip, port) DO UPDATE SET enabled = excluded.enabled",
                    );
                    let query = binds::node(query, group.0, line, to_millis(at));
                    let written = query.execute(&mut *tx).await;
                    written.map_err(rows::missing(format!("edge group {}", group.0)))?;
                }
                let after = count_nodes(tx, group).await?;
                Ok(rows::import_counts(lines.len(), after - before))
            })
        })
        .await
    }

    #[instrument(skip(self, protocol), err)]
    async fn upsert_group(
        &self,
        name: &str,
        protocol: &Protocol,
        at: DateTime<Utc>,
    ) -> StoreResult<EdgeGroup> {
        let query = sqlx::query(
            "INSERT INTO edge_groups (name, protocol, options, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET protocol = excluded.protocol, options = excluded.options
             RETURNING id, name, options",
        );
        let query = binds::group(query, name, protocol, at)?;
        let row = query.fetch_one(&self.writer).await?;
        rows::group(&row)
    }

    #[instrument(skip(self), err)]
    async fn set_node_enabled(&self, node: NodeId, enabled: bool) -> StoreResult<Option<EdgeNode>> {
        let query = sqlx::query(
            "UPDATE edge_nodes SET enabled = ?1
             WHERE id = ?2 RETURNING id, group_id, ip, port, enabled",
        );
        let query = query.bind(enabled).bind(node.0);
        let row = query.fetch_optional(&self.writer).await?;
        row.as_ref().map(rows::node).transpose()
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn group_by_name(&self, name: &str) -> StoreResult<Option<EdgeGroup>> {
        let query = sqlx::query(
            "SELECT id, name, options FROM edge_groups
             WHERE name = ?1",
        );
        let row = query.bind(name).fetch_optional(&self.reader).await?;
        row.as_ref().map(rows::group).transpose()
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn nodes_for_domain(
        &self,
        domain_id: i64,
        groups: &[String],
    ) -> StoreResult<Vec<NodeTarget>> {
        self.reader
            .acquire()
            .await?
            .domain_nodes(domain_id, &[])
            .await
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn node_set(&self, id: i64) -> StoreResult<Option<NodeSet>> {
        let query = sqlx::query_as(
            "SELECT nodes FROM node_sets
             WHERE id = ?1",
        );
        let row: Option<(String,)> = query.bind(id).fetch_optional(&self.reader).await?;
        row.map(|(json,)| rows::node_set(id, &json)).transpose()
    }

    #[instrument(skip(self), err)]
    async fn list_groups(&self) -> StoreResult<Vec<GroupWithNodes>> {
        let groups = sqlx::query("SELECT id, name, options FROM edge_groups ORDER BY name");
        let groups = groups.fetch_all(&self.reader).await?;
        let nodes = sqlx::query(
            "SELECT id, group_id, ip, port, enabled FROM edge_nodes ORDER BY group_id, id",
        );
        rows::groups_with_nodes(&groups, &nodes.fetch_all(&self.reader).await?)
    }
}

/// How many nodes `group` has.
async fn count_nodes(tx: &mut SqliteConnection, group: GroupId) -> StoreResult<i64> {
    let query = sqlx::query_as(
        "SELECT COUNT(*) FROM edge_nodes
         WHERE group_id = ?1",
    );
    let (count,): (i64,) = query.bind(group.0).fetch_one(tx).await?;
    Ok(count)
}
