//! Persistence: one trait per resource, [`Store`] their union, each implemented directly by
//! every database backend (the SQL inside the impl).
//!
//! What is not SQL (decoding rows, planning claims and batch writes) is written once, beside the
//! backends. No SQL lives outside this module.

mod batch_write;
mod binds;
mod claim;
mod columns;
mod group_commit;
mod health;
mod postgres;
mod requeue;
mod rows;
mod sqlite;
mod task_list;
mod traits;
mod types;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use traits::*;
pub use types::*;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::tasks::ProgressEvent;

/// What the store answers.
pub type StoreResult<T> = Result<T, StoreError>;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names a backend this build does not support.
    #[error("unsupported database URL {0:?} (expected sqlite://… or postgres://…)")]
    UnsupportedUrl(String),
    /// The database could not be opened or created.
    #[error("cannot open database: {0}")]
    Open(#[source] sqlx::Error),
    /// Applying the migrations failed.
    #[error("cannot migrate database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique name is taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// Something referred to does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A stored value cannot be read back (a damaged row or a newer schema).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// The task running a transaction panicked or was stopped.
    #[error("database task failed: {0}")]
    Task(String),
    /// The database was busy, locked or unreachable for the transaction this write was in.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Whether the database is busy, locked or unreachable for now, rather than refusing this
    /// request: the same request may succeed a moment later.
    pub fn is_unavailable(&self) -> bool {
        let error = match self {
            StoreError::Open(error) | StoreError::Query(error) => error,
            StoreError::Unavailable(_) => return true,
            _ => return false,
        };
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            sqlx::Error::Database(db) => matches!(
                db.code().as_deref(),
                // SQLite: SQLITE_BUSY, SQLITE_LOCKED (and their extended codes).
                Some("5" | "6" | "261" | "262" | "517" | "773")
                // PostgreSQL: cannot connect now, admin/crash shutdown, lock timeout, too many
                // connections, serialization failure, deadlock.
                | Some("57P01" | "57P02" | "57P03" | "55P03" | "53300" | "40001" | "40P01")
            ),
            _ => false,
        }
    }
}

/// What another instance sharing the database announced.
#[derive(Clone, Debug)]
pub enum StoreSignal {
    /// Tasks may be claimable: look for work now.
    WorkAvailable,
    /// A user's account or API keys changed: what is cached of them is out of date.
    AccountChanged {
        /// The user.
        user: crate::users::UserId,
    },
    /// The notifications were interrupted: what was announced meanwhile is unknown.
    Interrupted,
    /// Progress written by instance `origin`.
    Progress {
        /// The instance that wrote it.
        origin: String,
        /// The events.
        events: Vec<ProgressEvent>,
    },
}

/// The result of one callback delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Given up after the last attempt.
    GaveUp,
}

/// Opens the store named by `database_url`: `sqlite://path` (the file and its folder are created
/// if needed) or `postgres://user@host:port/database`.
pub async fn open(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        return Ok(Arc::new(SqliteStore::open(Path::new(path)).await?));
    }
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return Ok(Arc::new(PgStore::open(database_url).await?));
    }
    Err(StoreError::UnsupportedUrl(redact_password(database_url)))
}

/// Runs a transaction's work in a task of its own and waits for it.
///
/// A caller that goes away (an HTTP client hanging up drops its request's future) must not
/// cancel a transaction halfway: sqlx would hand the connection back to the pool still inside
/// it, holding its locks, and every later write on that connection would fail. Detached, the
/// transaction always ends in a commit or a rollback.
pub(crate) async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work)
        .await
        .map_err(|error| StoreError::Task(error.to_string()))?
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
