//! Domains, edge groups, nodes and frozen node sets.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::fleet::{EdgeGroup, EdgeNode, GroupId, NodeId, NodeLine, NodeTarget, Protocol};
use crate::store::rows;
use crate::store::{DomainInfo, GroupWithNodes, ImportCounts, NodeSet, StoreError};
use crate::target::DomainName;
use crate::time::to_millis;
use crate::users::UserId;

pub(super) async fn upsert_domain(
    pool: &SqlitePool,
    host: &DomainName,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO domains (host, created_at) VALUES (?, ?)
         ON CONFLICT (host) DO UPDATE SET host = excluded.host RETURNING id",
    )
    .bind(host.as_str())
    .bind(to_millis(at))
    .fetch_one(pool)
    .await?;
    Ok(id)
}

/// Runs a two-id statement that links or unlinks a domain.
pub(super) async fn link(
    pool: &SqlitePool,
    sql: &str,
    domain_id: i64,
    other: i64,
) -> Result<(), StoreError> {
    sqlx::query(sql)
        .bind(domain_id)
        .bind(other)
        .execute(pool)
        .await
        .map_err(rows::missing(format!("domain {domain_id} or {other}")))?;
    Ok(())
}

pub(super) async fn domains_of_user(
    pool: &SqlitePool,
    user: UserId,
) -> Result<Vec<(i64, DomainName)>, StoreError> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT d.id, d.host FROM domains d JOIN domain_users du ON du.domain_id = d.id
         WHERE du.user_id = ? ORDER BY d.host",
    )
    .bind(user.0)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(id, host)| Ok((id, rows::domain(&host)?)))
        .collect()
}

pub(super) async fn list_domains(pool: &SqlitePool) -> Result<Vec<DomainInfo>, StoreError> {
    let rows = sqlx::query(
        "SELECT d.id, d.host,
            (SELECT group_concat(u.username, char(10)) FROM domain_users du JOIN users u ON u.id = du.user_id
              WHERE du.domain_id = d.id) AS users,
            (SELECT group_concat(g.name, char(10)) FROM domain_groups dg JOIN edge_groups g ON g.id = dg.group_id
              WHERE dg.domain_id = d.id) AS groups
         FROM domains d ORDER BY d.host",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let host: String = row.try_get("host")?;
            Ok(DomainInfo {
                id: row.try_get("id")?,
                host: rows::domain(&host)?,
                users: rows::name_list(row.try_get("users")?),
                groups: rows::name_list(row.try_get("groups")?),
            })
        })
        .collect()
}

pub(super) async fn upsert_group(
    pool: &SqlitePool,
    name: &str,
    protocol: &Protocol,
    at: DateTime<Utc>,
) -> Result<EdgeGroup, StoreError> {
    let options = serde_json::to_string(protocol).expect("protocols serialize");
    let row = sqlx::query(
        "INSERT INTO edge_groups (name, protocol, options, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET protocol = excluded.protocol, options = excluded.options
         RETURNING id, name, options",
    )
    .bind(name)
    .bind(protocol.name())
    .bind(options)
    .bind(to_millis(at))
    .fetch_one(pool)
    .await?;
    rows::group(&row)
}

pub(super) async fn group_by_name(
    pool: &SqlitePool,
    name: &str,
) -> Result<Option<EdgeGroup>, StoreError> {
    sqlx::query("SELECT id, name, options FROM edge_groups WHERE name = ?")
        .bind(name)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(rows::group)
        .transpose()
}

pub(super) async fn list_groups(pool: &SqlitePool) -> Result<Vec<GroupWithNodes>, StoreError> {
    let groups = sqlx::query("SELECT id, name, options FROM edge_groups ORDER BY name")
        .fetch_all(pool)
        .await?;
    let nodes =
        sqlx::query("SELECT id, group_id, ip, port, enabled FROM edge_nodes ORDER BY group_id, id")
            .fetch_all(pool)
            .await?;
    let mut by_group: BTreeMap<i64, Vec<EdgeNode>> = BTreeMap::new();
    for row in &nodes {
        let node = rows::node(row)?;
        by_group.entry(node.group_id.0).or_default().push(node);
    }
    groups
        .iter()
        .map(|row| {
            let group = rows::group(row)?;
            let nodes = by_group.remove(&group.id.0).unwrap_or_default();
            Ok(GroupWithNodes { group, nodes })
        })
        .collect()
}

pub(super) async fn import_nodes(
    tx: &mut Transaction<'static, Sqlite>,
    group: GroupId,
    lines: &[NodeLine],
    at: DateTime<Utc>,
) -> Result<ImportCounts, StoreError> {
    let mut counts = ImportCounts::default();
    for line in lines {
        let existing: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM edge_nodes WHERE group_id = ? AND ip = ? AND port = ?")
                .bind(group.0)
                .bind(line.ip.to_string())
                .bind(i64::from(line.port))
                .fetch_optional(&mut **tx)
                .await?;
        match existing {
            Some((id,)) => {
                sqlx::query("UPDATE edge_nodes SET enabled = ? WHERE id = ?")
                    .bind(line.enabled)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                counts.updated += 1;
            }
            None => {
                sqlx::query("INSERT INTO edge_nodes (group_id, ip, port, enabled, created_at) VALUES (?, ?, ?, ?, ?)")
                    .bind(group.0)
                    .bind(line.ip.to_string())
                    .bind(i64::from(line.port))
                    .bind(line.enabled)
                    .bind(to_millis(at))
                    .execute(&mut **tx)
                    .await
                    .map_err(rows::missing(format!("edge group {}", group.0)))?;
                counts.added += 1;
            }
        }
    }
    Ok(counts)
}

pub(super) async fn set_node_enabled(
    pool: &SqlitePool,
    id: NodeId,
    enabled: bool,
) -> Result<Option<EdgeNode>, StoreError> {
    sqlx::query(
        "UPDATE edge_nodes SET enabled = ? WHERE id = ? RETURNING id, group_id, ip, port, enabled",
    )
    .bind(enabled)
    .bind(id.0)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(rows::node)
    .transpose()
}

pub(super) async fn nodes_for_domain<'e, E>(
    executor: E,
    domain_id: i64,
) -> Result<Vec<NodeTarget>, StoreError>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    let rows = sqlx::query(
        "SELECT n.id, n.ip, n.port, g.options FROM edge_nodes n
         JOIN domain_groups dg ON dg.group_id = n.group_id
         JOIN edge_groups g ON g.id = n.group_id
         WHERE dg.domain_id = ? AND n.enabled = 1
         ORDER BY n.id",
    )
    .bind(domain_id)
    .fetch_all(executor)
    .await?;
    let nodes = rows
        .iter()
        .map(rows::node_target)
        .collect::<Result<_, _>>()?;
    Ok(crate::fleet::distinct_caches(nodes))
}

pub(super) async fn node_set(pool: &SqlitePool, id: i64) -> Result<Option<NodeSet>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT nodes FROM node_sets WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(|(json,)| {
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(format!("node set {id}: {e}")))
    })
    .transpose()
}

/// Stores a node set (or finds the equal one stored before); its id.
pub(super) async fn freeze_node_set(
    tx: &mut Transaction<'static, Sqlite>,
    nodes: &[NodeTarget],
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let (digest, json) = crate::store::node_set_digest(nodes);
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO node_sets (digest, nodes, created_at) VALUES (?, ?, ?)
         ON CONFLICT (digest) DO UPDATE SET digest = excluded.digest RETURNING id",
    )
    .bind(digest)
    .bind(json)
    .bind(to_millis(at))
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}
