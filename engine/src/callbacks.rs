//! Delivers finished tasks' results to their callback URLs, signed and retried with backoff.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use tracing::Instrument;

use crate::callback_target::CallbackPolicy;
use crate::config::CallbackConfig;
use crate::keys::MasterKey;
use crate::report::SeedQueryBody;
use crate::store::{CallbackOutcome, DueCallback, Store};
use crate::time::Zone;

/// The header carrying `sha256=<hex HMAC-SHA256(api key, body)>`.
pub const SIGNATURE_HEADER: &str = "X-Purger-Signature";

/// What the delivery loop needs: where due callbacks are, how to sign them, how to word them.
pub(crate) struct Deliveries {
    /// The store with the callback queue and the sealed keys.
    pub store: Arc<dyn Store>,
    /// Unseals the keys that sign the bodies.
    pub master_key: Arc<MasterKey>,
    /// The zone of the seed body's times.
    pub zone: Zone,
    /// Timeouts, attempts, backoff and allowed networks.
    pub config: CallbackConfig,
}

/// Starts the delivery loop.
pub(crate) fn spawn(
    deliveries: Deliveries,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let run = async move {
        loop {
            let delivered = deliver_due(&deliveries).await;
            if delivered > 0 {
                continue;
            }
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    };
    tokio::spawn(run.instrument(tracing::info_span!("callbacks")))
}

async fn deliver_due(deliveries: &Deliveries) -> usize {
    let (store, config) = (&deliveries.store, &deliveries.config);
    let now = Utc::now();
    let retry_at = now + chrono::Duration::milliseconds(config.timeout_ms as i64 * 2 + 1000);
    let due = match store.due_callbacks(now, retry_at, 16).await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(%error, "reading due callbacks failed");
            return 0;
        }
    };
    let count = due.len();
    let deliveries = due.into_iter().map(|callback| async move {
        let task_id = callback.task.id.clone();
        let attempts = callback.attempts;
        let outcome = match deliver(deliveries, callback).await {
            Ok(()) => CallbackOutcome::Delivered,
            Err(reason) if attempts >= config.max_attempts => {
                tracing::warn!(task = %task_id, %reason, attempts, "callback given up");
                CallbackOutcome::GaveUp
            }
            Err(reason) => {
                let backoff = config
                    .backoff_secs
                    .saturating_mul(1 << attempts.saturating_sub(1).min(10));
                tracing::info!(task = %task_id, %reason, attempts, "callback failed; will retry");
                CallbackOutcome::RetryAt(Utc::now() + chrono::Duration::seconds(backoff as i64))
            }
        };
        if let Err(error) = store.finish_callback(&task_id, outcome).await {
            tracing::warn!(%error, task = %task_id, "recording callback outcome failed");
        }
    });
    futures::future::join_all(deliveries).await;
    count
}

#[tracing::instrument(skip_all, fields(task = %callback.task.id))]
async fn deliver(deliveries: &Deliveries, callback: DueCallback) -> Result<(), String> {
    let config = &deliveries.config;
    let url = callback
        .task
        .callback_url
        .clone()
        .ok_or("no callback url")?;
    let policy = CallbackPolicy::new(&config.allow_networks)?;
    let (parsed, addrs) = policy.resolve(&url).await.map_err(|e| e.to_string())?;
    let host = parsed.host_str().ok_or("no host")?.to_owned();
    let report = crate::report::load(&*deliveries.store, callback.task.clone())
        .await
        .map_err(|e| e.to_string())?;
    let body = SeedQueryBody::from_report(report, &deliveries.zone);
    let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    let signature = match callback.api_key_id {
        Some(key_id) => sign_with_key(deliveries, key_id, &body).await?,
        None => None,
    };
    // Connect only to the addresses that were checked, so DNS cannot point elsewhere meanwhile.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(config.timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .resolve_to_addrs(&host, &addrs)
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = client
        .post(parsed)
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", response.status().as_u16()))
    }
}

/// `sha256=<hex>` over `body` with the stored key `key_id`, or `None` when the key is gone.
async fn sign_with_key(
    deliveries: &Deliveries,
    key_id: i64,
    body: &[u8],
) -> Result<Option<String>, String> {
    let sealed = deliveries
        .store
        .sealed_key(key_id)
        .await
        .map_err(|e| e.to_string())?;
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let secret = deliveries
        .master_key
        .open(&sealed)
        .map_err(|e| e.to_string())?;
    Ok(Some(secret.sign_callback(body)))
}
