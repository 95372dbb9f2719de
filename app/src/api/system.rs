//! Server functions about the service itself.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the database check reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseStatus {
    /// The newest applied migration.
    pub schema_version: Option<i64>,
    /// Whether every migration of this build is applied.
    pub ready: bool,
}

impl std::fmt::Display for DatabaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.schema_version, self.ready) {
            (Some(version), true) => write!(f, "Database ready, schema version {version}"),
            (Some(version), false) => write!(f, "Database behind, schema version {version}"),
            (None, _) => write!(f, "Database not migrated"),
        }
    }
}

/// Reads the schema version through the engine.
#[server]
pub async fn check_database() -> Result<DatabaseStatus, super::error::AppError> {
    let engine = crate::api::context::engine()?;
    let schema_version = engine.schema_version().await?;
    let ready = engine.is_ready().await.unwrap_or(false);
    Ok(DatabaseStatus {
        schema_version,
        ready,
    })
}
