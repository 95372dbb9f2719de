//! When each API key was last used, written to the store in one go a moment later rather than
//! once per request: a busy key is used thousands of times a second, and each of those writes
//! would queue behind the submissions on the one writer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::store::Store;

/// How long uses gather before they are written.
const FLUSH_AFTER: Duration = Duration::from_secs(1);

/// The latest use of each key not yet written, and whether a write is scheduled.
#[derive(Debug, Default)]
pub(crate) struct KeyUses {
    pending: Mutex<HashMap<i64, DateTime<Utc>>>,
    scheduled: AtomicBool,
}

impl KeyUses {
    /// Records that key `key_id` was used now; written within [`FLUSH_AFTER`].
    pub(crate) fn record(self: &Arc<Self>, key_id: i64, store: &Arc<dyn Store>) {
        self.pending().insert(key_id, Utc::now());
        self.schedule(store);
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<i64, DateTime<Utc>>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes what is pending in [`FLUSH_AFTER`], unless a write is scheduled already. Uses the
    /// store cannot take now (its writer is busy) wait for the next write.
    fn schedule(self: &Arc<Self>, store: &Arc<dyn Store>) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let (uses, store) = (Arc::clone(self), Arc::clone(store));
        tokio::spawn(async move {
            tokio::time::sleep(FLUSH_AFTER).await;
            // Uses recorded from here on schedule the next write.
            uses.scheduled.store(false, Ordering::Release);
            let taken = std::mem::take(&mut *uses.pending());
            let mut later = Vec::new();
            for (key_id, at) in taken {
                match store.touch_api_key(key_id, at).await {
                    Ok(()) => {}
                    Err(error) if error.is_unavailable() => later.push((key_id, at)),
                    Err(error) => tracing::debug!(%error, key_id, "recording key use failed"),
                }
            }
            if !later.is_empty() {
                let mut pending = uses.pending();
                for (key_id, at) in later {
                    pending.entry(key_id).or_insert(at);
                }
                drop(pending);
                uses.schedule(&store);
            }
        });
    }
}
