//! Deletes task details after the retention period, once an hour.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::engine::Engine;

/// Starts the pruner.
pub(crate) fn spawn(engine: Engine, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = every_hour.tick() => match engine.prune_now().await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, "pruned old tasks"),
                    Err(error) => tracing::warn!(%error, "pruning old tasks failed"),
                },
            }
        }
    })
}
