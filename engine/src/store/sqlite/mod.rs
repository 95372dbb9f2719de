//! The embedded SQLite store: one file, WAL journal, a single writer connection.
//!
//! Each resource's trait is implemented in the file of its name, its SQL inside the impl.

mod audit;
mod batches;
mod callbacks;
mod checkpoint;
mod domains;
mod fleet;
mod health;
mod keys;
mod schema;
mod tasks;
mod users;
mod work;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

use super::group_commit::GroupCommit;
use super::{Signals, StoreError};

/// A [`Store`](super::Store) on a SQLite database file.
///
/// Writes go through one connection (SQLite has one writer anyway) in `BEGIN IMMEDIATE`
/// transactions, so read-then-write sequences such as quota checks are exact; reads use a pool.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Submissions, committed in groups on the writer connection.
    batches: GroupCommit,
    /// Node sets frozen by earlier claims, by domain (see `claim::FrozenSets`).
    frozen: std::sync::Arc<super::claim::FrozenSets>,
    /// Held while the store is: the checkpoint task stops once it is dropped.
    _alive: std::sync::Arc<()>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(StoreError::Open)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-16000");
        // Waiting writers queue for the one connection; past these bounds (and SQLite's busy
        // timeout once connected) a request fails as unavailable instead of hanging.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(15))
            // Checkpoints run beside the writer (see `checkpoint`), not in its commits.
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await
            .map_err(StoreError::Open)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(StoreError::Open)?;
        let batches = GroupCommit::start(batches::BatchWriter {
            writer: writer.clone(),
        });
        let alive = std::sync::Arc::new(());
        checkpoint::spawn(reader.clone(), std::sync::Arc::downgrade(&alive));
        Ok(Self {
            writer,
            reader,
            batches,
            frozen: std::sync::Arc::default(),
            _alive: alive,
        })
    }

    /// Runs `work` in a write transaction that holds SQLite's write lock from its first
    /// statement, detached from the caller (see [`detached`](super::detached)); commits when
    /// `work` succeeds.
    async fn transaction<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut SqliteConnection) -> BoxFuture<'t, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let writer = self.writer.clone();
        super::detached(async move {
            let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
            let value = work(&mut tx).await?;
            tx.commit().await?;
            Ok(value)
        })
        .await
    }
}

/// One instance per database file: nobody else to hear from or tell.
impl Signals for SqliteStore {}

/// What SQLite's planner says it will do for `sql` with `values` bound, on an empty database
/// with every migration, one step per line: tests pin which indexes a statement uses with it.
#[cfg(test)]
async fn query_plan(sql: &str, values: Vec<super::task_list::Value>) -> String {
    use super::SchemaStore;
    use sqlx::Row;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("plan.db"))
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let steps = super::task_list::bind_values(sqlx::query(&explain), values)
        .fetch_all(&store.reader)
        .await
        .expect("explain");
    steps
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect::<Vec<_>>()
        .join("\n")
}
