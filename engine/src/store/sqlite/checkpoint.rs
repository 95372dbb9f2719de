//! Folding the write-ahead log into the database file beside the writer, not in its way.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold: that commit,
//! and every submission waiting behind it, waits for thousands of pages to be copied and the file
//! to be synced. The writer connection has it off; this task checkpoints from a reader connection
//! instead, which copies what no reader still needs while the writer goes on appending.

use std::sync::Weak;
use std::time::Duration;

use sqlx::SqlitePool;
use tracing::Instrument;

/// How often the log is folded in. Each checkpoint syncs the database file, which the writer's
/// commits then wait behind: every 500 ms cost the seed scenario of `purger bench` 3 ms at the
/// median and 9 ms at p99; every 5 s costs nothing measurable, and 5 s of the heaviest load
/// seen (10 000 submissions/s) leave a log of some 100 MB.
const EVERY: Duration = Duration::from_secs(5);

/// Checkpoints through `reader` every [`EVERY`] until `alive` can no longer be upgraded (the store
/// was dropped).
pub(super) fn spawn(reader: SqlitePool, alive: Weak<()>) {
    let run = async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if alive.upgrade().is_none() {
                return;
            }
            let folded = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&reader)
                .await;
            if let Err(error) = folded {
                tracing::warn!(%error, "checkpointing the write-ahead log failed");
            }
        }
    };
    tokio::spawn(run.instrument(tracing::info_span!("wal_checkpoint")));
}
