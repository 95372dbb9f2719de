//! Keeps node health beyond one process: takes in the saved health when the workers start,
//! saves what the workers learnt every few seconds (and once more when they stop), and records
//! how many nodes are in each health state every 10 minutes, for 30 days (the edges page's
//! chart of health over time).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::fanout::health::{HealthBook, NodeHealth};
use crate::fleet::NodeId;
use crate::fleet_view::{health_sample, HealthSample};
use crate::store::{Store, StoreError};

/// How often what changed is saved.
const SAVE_EVERY: Duration = Duration::from_secs(5);

/// The length of a sample's slot.
pub const SAMPLE_MINUTES: i64 = 10;

/// How long samples are kept.
const KEEP_SAMPLES_DAYS: i64 = 30;

/// The store and this instance's health book.
#[derive(Clone)]
pub(crate) struct HealthKeeper {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) book: HealthBook,
}

impl HealthKeeper {
    /// Takes in the saved health where it is newer than what this instance saw.
    async fn adopt_saved(&self) -> Result<(), StoreError> {
        self.book.adopt(self.store.saved_node_health().await?);
        Ok(())
    }

    /// Saves the nodes recorded since the last save; how many. When the save fails they are
    /// saved with the next.
    async fn save(&self) -> Result<usize, StoreError> {
        let changed = self.book.take_changed();
        if changed.is_empty() {
            return Ok(0);
        }
        if let Err(error) = self.store.save_node_health(&changed).await {
            self.book
                .mark_changed(changed.iter().map(|(node, _)| *node));
            return Err(error);
        }
        Ok(changed.len())
    }

    /// Records the fleet's states now, as the sample of the slot starting at `slot`.
    async fn sample(&self, slot: DateTime<Utc>) -> Result<HealthSample, StoreError> {
        let groups = self.store.list_groups().await?;
        let health = self.book.merged_with(self.store.saved_node_health().await?);
        let sample = health_sample(&groups, &health, slot);
        let keep_since = slot - chrono::Duration::days(KEEP_SAMPLES_DAYS);
        self.store.save_health_sample(&sample, keep_since).await?;
        Ok(sample)
    }
}

/// Every node's saved health.
type SavedMap = Arc<HashMap<NodeId, NodeHealth>>;

/// The saved health as last read, for readers (the edges page, the CLI) that would otherwise
/// read every node's row on each call: read again once it is older than the save interval, so
/// it is as fresh as what the instances save.
#[derive(Debug, Default)]
pub(crate) struct SavedHealth(tokio::sync::Mutex<Option<(Instant, SavedMap)>>);

impl SavedHealth {
    /// The saved health, read from `store` when the copy held is older than [`SAVE_EVERY`].
    pub(crate) async fn get(&self, store: &dyn Store) -> Result<SavedMap, StoreError> {
        let mut held = self.0.lock().await;
        if let Some((at, saved)) = held.as_ref() {
            if at.elapsed() < SAVE_EVERY {
                return Ok(Arc::clone(saved));
            }
        }
        let saved = Arc::new(store.saved_node_health().await?);
        *held = Some((Instant::now(), Arc::clone(&saved)));
        Ok(saved)
    }
}

/// The start of the sample slot `at` falls in.
pub fn sample_slot(at: DateTime<Utc>) -> DateTime<Utc> {
    let slot_millis = SAMPLE_MINUTES * 60_000;
    let millis = at.timestamp_millis();
    crate::time::from_millis(millis - millis.rem_euclid(slot_millis))
}

/// Starts the keeper.
pub(crate) fn spawn(keeper: HealthKeeper, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let run = async move {
        if let Err(error) = keeper.adopt_saved().await {
            tracing::warn!(%error, "reading the saved node health failed");
        }
        let mut every = tokio::time::interval(SAVE_EVERY);
        let mut sampled: Option<DateTime<Utc>> = None;
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = every.tick() => {}
            }
            if let Err(error) = keeper.save().await {
                tracing::warn!(%error, "saving node health failed");
            }
            let slot = sample_slot(Utc::now());
            if sampled != Some(slot) {
                match keeper.sample(slot).await {
                    Ok(_) => sampled = Some(slot),
                    Err(error) => tracing::warn!(%error, "recording the fleet's health failed"),
                }
            }
        }
        match keeper.save().await {
            Ok(saved) => tracing::debug!(saved, "node health saved"),
            Err(error) => tracing::warn!(%error, "saving node health at shutdown failed"),
        }
    };
    tokio::spawn(run.instrument(tracing::info_span!("health_keeper")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_starts_on_a_ten_minute_boundary() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T23:47:12.5Z")
            .expect("time")
            .to_utc();
        assert_eq!(sample_slot(at).to_rfc3339(), "2026-12-01T23:40:00+00:00");
        assert_eq!(sample_slot(sample_slot(at)), sample_slot(at));
    }
}
