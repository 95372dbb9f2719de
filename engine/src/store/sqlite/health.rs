//! Node health and the fleet's health over time (the statements are shared: `store/health.rs`).

use super::SqliteStore;

crate::store::health::impl_health_store!(SqliteStore, sqlx::Sqlite, writer, reader);
