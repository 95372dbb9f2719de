//! `LISTEN/NOTIFY` between instances sharing one database: new work wakes idle dispatchers at
//! once, progress written by one instance reaches browsers connected to another, and a changed
//! account or key is forgotten by every instance's key cache.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;
use tracing::instrument;

use super::PgStore;
use crate::store::{Signals, StoreError, StoreSignal};
use crate::tasks::ProgressEvent;
use crate::users::UserId;

/// Notified (empty payload) when tasks become claimable: accepted, retried or released.
pub(super) const WORK_CHANNEL: &str = "purger_work";
/// Notified with [`ProgressPayload`] JSON after an instance writes progress.
pub(super) const PROGRESS_CHANNEL: &str = "purger_progress";
/// Notified with the user id after a user's account or API keys change.
const ACCOUNTS_CHANNEL: &str = "purger_accounts";
/// NOTIFY payloads must stay below 8000 bytes; events are sent in chunks of this many.
const EVENTS_PER_PAYLOAD: usize = 20;

#[derive(Serialize, Deserialize)]
struct ProgressPayload {
    origin: String,
    events: Vec<ProgressEvent>,
}

#[async_trait]
impl Signals for PgStore {
    /// Listens on both channels and forwards what arrives until the receiver is dropped.
    #[instrument(skip(self), err)]
    async fn listen(&self) -> Result<Option<mpsc::Receiver<StoreSignal>>, StoreError> {
        let listener = PgListener::connect_with(&self.pool).await?;
        Ok(Some(forward(listener).await?))
    }

    #[instrument(level = "debug", skip(self), err)]
    async fn announce_account_change(&self, user: UserId) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(ACCOUNTS_CHANNEL)
            .bind(user.0.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[instrument(level = "debug", skip(self, events), fields(events = events.len()), err)]
    async fn announce_progress(
        &self,
        origin: &str,
        events: &[ProgressEvent],
    ) -> Result<(), StoreError> {
        for chunk in events.chunks(EVENTS_PER_PAYLOAD) {
            let payload = serde_json::to_string(&ProgressPayload {
                origin: origin.to_owned(),
                events: chunk.to_vec(),
            })
            .map_err(|e| StoreError::Corrupt(format!("progress payload: {e}")))?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(PROGRESS_CHANNEL)
                .bind(payload)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

/// Listens on both channels with `listener` and forwards what arrives until the receiver is
/// dropped.
async fn forward(mut listener: PgListener) -> Result<mpsc::Receiver<StoreSignal>, StoreError> {
    listener
        .listen_all([WORK_CHANNEL, PROGRESS_CHANNEL, ACCOUNTS_CHANNEL])
        .await?;
    let (sender, receiver) = mpsc::channel(1024);
    tokio::spawn(async move {
        loop {
            let signal = match listener.try_recv().await {
                Ok(Some(notification)) if notification.channel() == PROGRESS_CHANNEL => {
                    match serde_json::from_str::<ProgressPayload>(notification.payload()) {
                        Ok(payload) => StoreSignal::Progress {
                            origin: payload.origin,
                            events: payload.events,
                        },
                        Err(error) => {
                            tracing::warn!(%error, "ignoring a malformed progress notification");
                            continue;
                        }
                    }
                }
                Ok(Some(notification)) if notification.channel() == ACCOUNTS_CHANNEL => {
                    match notification.payload().parse() {
                        Ok(id) => StoreSignal::AccountChanged { user: UserId(id) },
                        Err(_) => {
                            tracing::warn!("ignoring a malformed account notification");
                            continue;
                        }
                    }
                }
                Ok(Some(_)) => StoreSignal::WorkAvailable,
                // The connection was lost and is re-established on the next call; whatever
                // was notified meanwhile is unknown.
                Ok(None) => {
                    tracing::warn!("database notifications interrupted; reconnecting");
                    StoreSignal::Interrupted
                }
                Err(error) => {
                    tracing::warn!(%error, "listening for database notifications failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    StoreSignal::Interrupted
                }
            };
            if sender.send(signal).await.is_err() {
                return;
            }
        }
    });
    Ok(receiver)
}
