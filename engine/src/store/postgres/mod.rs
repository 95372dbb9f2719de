//! The PostgreSQL store, for several Purger instances on one database.
//!
//! Same tables as the SQLite store. Concurrency comes from row locks instead of SQLite's single
//! writer: a submission locks its user's row (exact quotas across instances), claims take tasks
//! with `FOR UPDATE SKIP LOCKED`, and `LISTEN/NOTIFY` relays wake-ups and progress.
//!
//! Each resource's trait is implemented in the file of its name, its SQL inside the impl.

mod audit;
mod batches;
mod callbacks;
mod domains;
mod fleet;
mod health;
mod keys;
mod schema;
mod signals;
mod tasks;
mod users;
mod work;

use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use super::group_commit::GroupCommit;
use super::StoreError;

/// Connections per instance unless the URL says otherwise (`?max_connections=N`).
const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// A [`Store`](super::Store) on a PostgreSQL database shared by any number of instances.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// Submissions, committed in groups.
    batches: GroupCommit,
    /// Node sets frozen by earlier claims, by domain (see `claim::FrozenSets`).
    frozen: std::sync::Arc<super::claim::FrozenSets>,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`).
    ///
    /// `max_connections=N` in the query string sizes the pool; every other parameter is
    /// PostgreSQL's own.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (url, max_connections) = split_pool_size(url)?;
        let options: PgConnectOptions = url.parse().map_err(StoreError::Open)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.application_name("purger"))
            .await
            .map_err(StoreError::Open)?;
        let batches = GroupCommit::start(batches::BatchWriter { pool: pool.clone() });
        Ok(Self {
            pool,
            batches,
            frozen: std::sync::Arc::default(),
        })
    }

    /// Runs `work` in a transaction detached from the caller (see
    /// [`detached`](super::detached)); commits when `work` succeeds.
    async fn transaction<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut PgConnection) -> BoxFuture<'t, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let pool = self.pool.clone();
        super::detached(async move {
            let mut tx = pool.begin().await?;
            let value = work(&mut tx).await?;
            tx.commit().await?;
            Ok(value)
        })
        .await
    }
}

/// Takes Purger's own `max_connections` parameter out of a PostgreSQL URL.
fn split_pool_size(url: &str) -> Result<(String, u32), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), DEFAULT_MAX_CONNECTIONS));
    };
    let mut size = DEFAULT_MAX_CONNECTIONS;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("max_connections", value)) => {
                size = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, size))
}

#[cfg(test)]
mod tests {
    use super::split_pool_size;

    #[test]
    fn the_pool_size_parameter_is_taken_out_of_the_url() {
        assert_eq!(
            split_pool_size("postgres://a@h/db").unwrap(),
            ("postgres://a@h/db".into(), 16)
        );
        assert_eq!(
            split_pool_size("postgres://a@h/db?max_connections=4&sslmode=disable").unwrap(),
            ("postgres://a@h/db?sslmode=disable".into(), 4)
        );
        assert!(split_pool_size("postgres://a@h/db?max_connections=0").is_err());
    }
}
