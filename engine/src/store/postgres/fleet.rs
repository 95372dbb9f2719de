//! Edge groups, nodes and frozen node sets on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::instrument;

use super::PgStore;
use crate::fleet::{EdgeGroup, EdgeNode, GroupId, NodeId, NodeLine, NodeTarget, Protocol};
use crate::store::claim::WorkTx;
use crate::store::{binds, rows};
use crate::store::{FleetStore, GroupWithNodes, ImportCounts, NodeSet, StoreResult};
use crate::time::to_millis;

#[async_trait]
impl FleetStore for PgStore {
    #[instrument(skip(self, lines), fields(lines = lines.len()), err(level = "info"))]
    async fn import_nodes(
        &self,
        group: GroupId,
        lines: &[NodeLine],
        at: DateTime<Utc>,
    ) -> StoreResult<ImportCounts> {
        // One statement for all lines (`xmax = 0` tells an inserted row from an updated one); a
        // node listed twice is written once, as its last line says.
        let mut nodes: Vec<&NodeLine> = Vec::with_capacity(lines.len());
        for line in lines.iter().rev() {
            if !nodes.iter().any(|n| (n.ip, n.port) == (line.ip, line.port)) {
                nodes.push(line);
            }
        }
        let ips: Vec<String> = nodes.iter().map(|n| n.ip.to_string()).collect();
        let ports: Vec<i64> = nodes.iter().map(|n| i64::from(n.port)).collect();
        let enabled: Vec<bool> = nodes.iter().map(|n| n.enabled).collect();
        let query = sqlx::query_as(
            "WITH written AS (
                INSERT INTO edge_nodes (group_id, ip, port, enabled, created_at)
                SELECT $1, ip, port, enabled, $2
                FROM UNNEST($3::text[], $4::bigint[], $5::boolean[]) AS n (ip, port, enabled)
                ON CONFLICT (group_id, ip, port) DO UPDATE SET enabled = excluded.enabled
                RETURNING (xmax = 0) AS added
             )
             SELECT COUNT(*) FILTER (WHERE added) FROM written",
        );
        let query = query.bind(group.0).bind(to_millis(at));
        let written = query
            .bind(ips)
            .bind(ports)
            .bind(enabled)
            .fetch_one(&self.pool)
            .await;
        let (added,): (i64,) = written.map_err(rows::missing(format!("edge group {}", group.0)))?;
        Ok(rows::import_counts(lines.len(), added))
    }

    #[instrument(skip(self, protocol), err)]
    async fn upsert_group(
        &self,
        name: &str,
        protocol: &Protocol,
        at: DateTime<Utc>,
    ) -> StoreResult<EdgeGroup> {
        let query = sqlx::query(
            "INSERT INTO edge_groups (name, protocol, options, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET protocol = excluded.protocol, options = excluded.options
             RETURNING id, name, options",
        );
        let query = binds::group(query, name, protocol, at)?;
        let row = query.fetch_one(&self.pool).await?;
        rows::group(&row)
    }

    #[instrument(skip(self), err)]
    async fn set_node_enabled(&self, node: NodeId, enabled: bool) -> StoreResult<Option<EdgeNode>> {
        let query = sqlx::query(
            "UPDATE edge_nodes SET enabled = $1
             WHERE id = $2 RETURNING id, group_id, ip, port, enabled",
        );
        let query = query.bind(enabled).bind(node.0);
        let row = query.fetch_optional(&self.pool).await?;
        row.as_ref().map(rows::node).transpose()
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn group_by_name(&self, name: &str) -> StoreResult<Option<EdgeGroup>> {
        let query = sqlx::query(
            "SELECT id, name, options FROM edge_groups
             WHERE name = $1",
        );
        let row = query.bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(rows::group).transpose()
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn nodes_for_domain(
        &self,
        domain_id: i64,
        groups: &[String],
    ) -> StoreResult<Vec<NodeTarget>> {
        self.pool
            .acquire()
            .await?
            .domain_nodes(domain_id, &[])
            .await
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn node_set(&self, id: i64) -> StoreResult<Option<NodeSet>> {
        let query = sqlx::query_as(
            "SELECT nodes FROM node_sets
             WHERE id = $1",
        );
        let row: Option<(String,)> = query.bind(id).fetch_optional(&self.pool).await?;
        row.map(|(json,)| rows::node_set(id, &json)).transpose()
    }

    #[instrument(skip(self), err)]
    async fn list_groups(&self) -> StoreResult<Vec<GroupWithNodes>> {
        let groups = sqlx::query("SELECT id, name, options FROM edge_groups ORDER BY name");
        let groups = groups.fetch_all(&self.pool).await?;
        let nodes = sqlx::query(
            "SELECT id, group_id, ip, port, enabled FROM edge_nodes ORDER BY group_id, id",
        );
        rows::groups_with_nodes(&groups, &nodes.fetch_all(&self.pool).await?)
    }
}
