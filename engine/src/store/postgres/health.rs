//! Node health and the fleet's health over time (the statements are shared: `store/health.rs`).

use super::PgStore;

crate::store::health::impl_health_store!(PgStore, sqlx::Postgres, pool, pool);
