//! Domains and their assignments.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::instrument;

use super::SqliteStore;
use crate::fleet::GroupId;
use crate::store::{binds, rows};
use crate::store::{DomainInfo, DomainStore, StoreResult};
use crate::target::DomainName;
use crate::time::to_millis;
use crate::users::UserId;

/// The columns [`rows::domain_info`] reads, from `domains d`: the assigned names joined with
/// newlines.
const DOMAIN_INFO: &str = "SELECT d.id, d.host,
    (SELECT group_concat(u.username, char(10)) FROM domain_users du
      JOIN users u ON u.id = du.user_id WHERE du.domain_id = d.id) AS users,
    (SELECT group_concat(g.name, char(10)) FROM domain_groups dg
      JOIN edge_groups g ON g.id = dg.group_id WHERE dg.domain_id = d.id) AS groups
    FROM domains d";

#[async_trait]
impl DomainStore for SqliteStore {
    #[instrument(skip(self), err)]
    async fn upsert_domain(&self, host: &DomainName, at: DateTime<Utc>) -> StoreResult<i64> {
        let query = sqlx::query_as(
            "INSERT INTO domains (host, created_at) VALUES (?1, ?2)
             ON CONFLICT (host) DO UPDATE SET host = excluded.host RETURNING id",
        );
        let query = query.bind(host.as_str()).bind(to_millis(at));
        let (id,): (i64,) = query.fetch_one(&self.writer).await?;
        Ok(id)
    }

    #[instrument(skip(self), err(level = "info"))]
    async fn assign_domain_user(&self, domain_id: i64, user: UserId) -> StoreResult<()> {
        let sql = "INSERT INTO domain_users (domain_id, user_id) VALUES (?1, ?2)
                   ON CONFLICT DO NOTHING";
        binds::link(&self.writer, sql, domain_id, user.0).await
    }

    #[instrument(skip(self), err(level = "info"))]
    async fn assign_domain_group(&self, domain_id: i64, group: GroupId) -> StoreResult<()> {
        let sql = "INSERT INTO domain_groups (domain_id, group_id) VALUES (?1, ?2)
                   ON CONFLICT DO NOTHING";
        binds::link(&self.writer, sql, domain_id, group.0).await
    }

    #[instrument(skip(self), err(level = "info"))]
    async fn unassign_domain_user(&self, domain_id: i64, user: UserId) -> StoreResult<()> {
        let sql = "DELETE FROM domain_users WHERE domain_id = ?1
                   AND user_id = ?2";
        binds::link(&self.writer, sql, domain_id, user.0).await
    }

    #[instrument(skip(self), err(level = "info"))]
    async fn unassign_domain_group(&self, domain_id: i64, group: GroupId) -> StoreResult<()> {
        let sql = "DELETE FROM domain_groups WHERE domain_id = ?1
                   AND group_id = ?2";
        binds::link(&self.writer, sql, domain_id, group.0).await
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn domains_of_user(&self, user: UserId) -> StoreResult<Vec<(i64, DomainName)>> {
        let query = sqlx::query_as(
            "SELECT d.id, d.host FROM domains d JOIN domain_users du ON du.domain_id = d.id
             WHERE du.user_id = ?1 ORDER BY d.host",
        );
        let found: Vec<(i64, String)> = query.bind(user.0).fetch_all(&self.reader).await?;
        rows::domains(found)
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn domain_group_names(&self, domain_id: i64) -> StoreResult<Vec<String>> {
        let query = sqlx::query_as(
            "SELECT g.name FROM edge_groups g JOIN domain_groups dg ON dg.group_id = g.id
             WHERE dg.domain_id = ?1 ORDER BY g.name",
        );
        let found: Vec<(String,)> = query.bind(domain_id).fetch_all(&self.reader).await?;
        Ok(found.into_iter().map(|(name,)| name).collect())
    }

    #[instrument(skip(self), err)]
    async fn domain_by_host(&self, host: &str) -> StoreResult<Option<DomainInfo>> {
        let sql = format!(
            "{DOMAIN_INFO}
             WHERE d.host = ?1"
        );
        let query = sqlx::query(&sql).bind(host);
        let row = query.fetch_optional(&self.reader).await?;
        row.as_ref().map(rows::domain_info).transpose()
    }

    #[instrument(skip(self), err)]
    async fn list_domains(&self) -> StoreResult<Vec<DomainInfo>> {
        let sql = format!("{DOMAIN_INFO} ORDER BY d.host");
        let found = sqlx::query(&sql).fetch_all(&self.reader).await?;
        found.iter().map(rows::domain_info).collect()
    }
}
