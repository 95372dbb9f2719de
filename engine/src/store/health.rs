//! Node health and fleet health samples, the same for both backends: the statements are plain
//! SQL that SQLite and PostgreSQL read alike (placeholders come from the query builder), so
//! `impl_health_store!` implements `HealthStore` for each store from one text, and the rows are
//! decoded here.

use super::columns::Columns;
use crate::fanout::health::NodeHealth;
use crate::fleet::NodeId;
use crate::fleet_view::HealthSample;
use crate::store::StoreError;
use crate::time::from_millis;

/// Nodes per statement (7 values each, within SQLite's 32 766 variables).
pub(super) const NODES_PER_INSERT: usize = 1000;

/// Implements `HealthStore` for a store (`$db` its database) from the shared statements
/// (`binds::node_health_rows`, `binds::health_sample_row` and those below): `$write` is the
/// pool that writes, `$read` the one that reads. A macro rather than generic functions because
/// sqlx's query builders cannot be executed generically over the database.
macro_rules! impl_health_store {
    ($store:ty, $db:ty, $write:ident, $read:ident) => {
        #[async_trait::async_trait]
        impl $crate::store::HealthStore for $store {
            #[tracing::instrument(skip_all, fields(nodes = health.len()), err)]
            async fn save_node_health(
                &self,
                health: &[($crate::fleet::NodeId, $crate::fanout::health::NodeHealth)],
            ) -> $crate::store::StoreResult<()> {
                let mut connection = self.$write.acquire().await?;
                for chunk in health.chunks($crate::store::health::NODES_PER_INSERT) {
                    let mut insert = $crate::store::binds::node_health_rows::<$db>(chunk);
                    insert.build().execute(&mut *connection).await?;
                }
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip(self), err)]
            async fn saved_node_health(
                &self,
            ) -> $crate::store::StoreResult<
                std::collections::HashMap<
                    $crate::fleet::NodeId,
                    $crate::fanout::health::NodeHealth,
                >,
            > {
                let found = sqlx::query(
                    "SELECT node_id, last_success_at, last_failure_at, last_failure_reason,
                        recent, outcomes
                     FROM node_health",
                )
                .fetch_all(&self.$read)
                .await?;
                found
                    .iter()
                    .map($crate::store::health::node_health)
                    .collect()
            }

            #[tracing::instrument(skip(self), err)]
            async fn save_health_sample(
                &self,
                sample: &$crate::fleet_view::HealthSample,
                keep_since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                use $crate::store::binds::Binds;
                let mut connection = self.$write.acquire().await?;
                let mut insert = $crate::store::binds::health_sample_row::<$db>(sample);
                insert.build().execute(&mut *connection).await?;
                let mut delete =
                    sqlx::QueryBuilder::<$db>::new("DELETE FROM fleet_health_samples WHERE at < ");
                delete
                    .separated("")
                    .int($crate::time::to_millis(keep_since));
                delete.build().execute(&mut *connection).await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip(self), err)]
            async fn health_samples(
                &self,
                since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<$crate::fleet_view::HealthSample>> {
                use $crate::store::binds::Binds;
                let mut select = sqlx::QueryBuilder::<$db>::new(
                    "SELECT at, healthy, degraded, failing, disabled, never_purged
                     FROM fleet_health_samples WHERE at >= ",
                );
                select.separated("").int($crate::time::to_millis(since));
                select.push(" ORDER BY at");
                let found = select.build().fetch_all(&self.$read).await?;
                found
                    .iter()
                    .map($crate::store::health::health_sample)
                    .collect()
            }
        }
    };
}
pub(super) use impl_health_store;

/// A node's saved health.
pub(super) fn node_health(row: &impl Columns) -> Result<(NodeId, NodeHealth), StoreError> {
    let failure = match (
        row.opt_int("last_failure_at")?,
        row.opt_text("last_failure_reason")?,
    ) {
        (Some(at), Some(reason)) => Some((from_millis(at), reason)),
        _ => None,
    };
    let recent = row.int("recent")?.clamp(0, 64) as u32;
    let health = NodeHealth::from_stored(
        row.opt_int("last_success_at")?.map(from_millis),
        failure,
        recent,
        row.int("outcomes")? as u64,
    );
    Ok((NodeId(row.int("node_id")?), health))
}

/// A fleet health sample.
pub(super) fn health_sample(row: &impl Columns) -> Result<HealthSample, StoreError> {
    let mut counts = [0u32; 5];
    let columns = ["healthy", "degraded", "failing", "disabled", "never_purged"];
    for (count, column) in counts.iter_mut().zip(columns) {
        *count = row.int(column)?.clamp(0, i64::from(u32::MAX)) as u32;
    }
    Ok(HealthSample {
        at: from_millis(row.int("at")?),
        counts,
    })
}
