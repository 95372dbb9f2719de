//! Deletes task details after the retention period, once an hour.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::{Store, StoreError};

/// Deletes the tasks finished more than `retention_days` ago (none when it is 0); how many.
pub(crate) async fn prune(store: &dyn Store, retention_days: u32) -> Result<u64, StoreError> {
    if retention_days == 0 {
        return Ok(0);
    }
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(retention_days));
    store.prune_tasks(cutoff).await
}

/// Starts the pruner.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    retention_days: u32,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let run = async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = every_hour.tick() => match prune(store.as_ref(), retention_days).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, "pruned old tasks"),
                    Err(error) => tracing::warn!(%error, "pruning old tasks failed"),
                },
            }
        }
    };
    tokio::spawn(tracing::Instrument::instrument(
        run,
        tracing::info_span!("retention", days = retention_days),
    ))
}
