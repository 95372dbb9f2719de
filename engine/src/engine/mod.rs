//! The [`Engine`] handle that the server, the dashboard and the CLI share: its state, its
//! workers and the audit log. Its operations are grouped by resource in the modules below, one
//! `impl Engine` block each.

mod domains;
mod fleet;
mod keys;
mod purges;
mod sessions;
mod tasks;
mod users;

pub use fleet::NodeImport;
pub use keys::AuthFailure;
pub use sessions::SignInFailure;
pub use tasks::{DayOutcomes, QueueDepth};

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinHandle;

use crate::callback_target::CallbackPolicy;
use crate::config::EngineConfig;
use crate::cpu::CpuPool;
use crate::error::EngineError;
use crate::fanout::{self, ProgressEvent, Scheduler};
use crate::fleet::{EdgeGroup, EdgeNode, GroupId, NodeId, NodeLine, Protocol};
use crate::ids::{BatchId, TaskId};
use crate::key_scope::{KeyScope, KeyScopeError, Viewer};
use crate::keys::{generate_public_id, lookup_hash, ApiKeySecret, MasterKey};
use crate::passwords::{hash_password, VerifierMemory, MIN_PASSWORD_LEN};
use crate::rate_limit::{RateLimitConfig, RateLimiter};
use crate::report::{SeedQueryBody, TaskReport};
use crate::store::{
    self, ApiKeyInfo, AuditEntry, AuditFilter, DomainInfo, GroupWithNodes, NewApiKey, Store,
    StoreSignal, TaskFilter, UserUpdate,
};
use crate::submit::{self, QuotaSnapshot, Submission, SubmitError, SubmitOutcome};
use crate::target::DomainName;
use crate::tasks::TaskRecord;
use crate::time::{QuotaDay, Zone};
use crate::users::{valid_username, NewUser, QuotaOverrides, Role, User, UserId, MAX_USERNAME_LEN};

/// Who does something, for the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The user, if a person did it.
    pub id: Option<UserId>,
    /// User name, or `cli` / `system`.
    pub name: String,
    /// The public id of the API key the user acts with, when it is one.
    pub key: Option<String>,
}

impl Actor {
    /// The operator CLI.
    pub fn cli() -> Self {
        Self {
            id: None,
            name: "cli".into(),
            key: None,
        }
    }
    /// A signed-in user.
    pub fn user(user: &User) -> Self {
        Self {
            id: Some(user.id),
            name: user.username.clone(),
            key: None,
        }
    }
    /// A user acting with the API key of public id `key`.
    pub fn with_key(user: &User, key: &str) -> Self {
        Self {
            key: Some(key.to_owned()),
            ..Self::user(user)
        }
    }
}

/// A cheap-to-clone handle on the purge engine and its store.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: EngineConfig,
    master_key: Arc<MasterKey>,
    callback_policy: CallbackPolicy,
    events: broadcast::Sender<ProgressEvent>,
    wake: Arc<Notify>,
    callbacks_wake: Arc<Notify>,
    owner: String,
    login_throttle: crate::sessions::LoginThrottle,
    health: crate::fanout::health::HealthBook,
    /// The health every instance saved, as last read.
    saved_health: crate::health_keeper::SavedHealth,
    cpu: CpuPool,
    password_memory: Arc<VerifierMemory>,
    /// Lines the dashboard may check per session (regex compilation is not free).
    check_budget: RateLimiter<Vec<u8>>,
    /// The user whose sessions, role or enabled flag just changed (open event streams re-check).
    account_changes: broadcast::Sender<UserId>,
    /// Key uses not yet written.
    key_uses: Arc<crate::key_uses::KeyUses>,
    /// Authenticated keys by lookup hash, and users' domains.
    accounts: crate::account_cache::AccountCache,
}

/// Lines per second the dashboard's inline validation may check per session.
const CHECK_LINES_PER_SECOND: f64 = 200.0;

/// Lines it may check at once before that rate applies.
const CHECK_LINES_BURST: f64 = 1000.0;

/// The background workers of an engine; stop them with [`Workers::shutdown`].
pub struct Workers {
    shutdown: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
    /// Stopped last, so that it saves what the fan-out recorded until it stopped.
    health_keeper: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

impl Workers {
    /// Stops claiming, writes what is known, gives leases back and waits for the workers.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for handle in self.handles {
            let _ = handle.await;
        }
        if let Some((shutdown, handle)) = self.health_keeper {
            let _ = shutdown.send(true);
            let _ = handle.await;
        }
    }

    /// Stops the workers at once without writing or releasing anything, as a crash would.
    pub fn abort(self) {
        for handle in &self.handles {
            handle.abort();
        }
        if let Some((_, handle)) = &self.health_keeper {
            handle.abort();
        }
    }
}

impl Engine {
    /// Opens the database at `database_url`, applies pending migrations and loads the master key.
    pub async fn open(database_url: &str, config: EngineConfig) -> Result<Self, EngineError> {
        crate::data_files::create_private_sqlite_file(database_url)?;
        let store = store::open(database_url).await?;
        store.migrate().await?;
        let engine = Self::with_store(store, config)?;
        engine.check_master_key().await?;
        Ok(engine)
    }

    /// Refuses a master key other than the one that sealed the stored API keys (another
    /// instance's key file, a mistyped `PURGER_MASTER_KEY`): every key would fail to open.
    async fn check_master_key(&self) -> Result<(), EngineError> {
        let fingerprint = self.inner.master_key.fingerprint();
        let stored = self
            .inner
            .store
            .setting_or_insert("master_key_fingerprint", &fingerprint)
            .await?;
        if stored != fingerprint {
            return Err(EngineError::Config(format!(
                "the master key (fingerprint {fingerprint}) is not the one this database's API keys \
                 were sealed with (fingerprint {stored}); give every instance the same master_key \
                 (PURGER_MASTER_KEY)"
            )));
        }
        Ok(())
    }

    /// An engine over an already opened and migrated store.
    pub fn with_store(store: Arc<dyn Store>, config: EngineConfig) -> Result<Self, EngineError> {
        let master_key = match &config.master_key {
            Some(text) => MasterKey::from_base64(text)?,
            None => MasterKey::load_or_create(&config.data_dir.join("master.key"))?,
        };
        let callback_policy =
            CallbackPolicy::new(&config.callbacks.allow_networks).map_err(EngineError::Config)?;
        let owner = config
            .instance_name
            .clone()
            .unwrap_or_else(default_instance_name);
        let (events, _) = broadcast::channel(4096);
        let (account_changes, _) = broadcast::channel(256);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                config,
                master_key: Arc::new(master_key),
                callback_policy,
                events,
                wake: Arc::new(Notify::new()),
                callbacks_wake: Arc::new(Notify::new()),
                owner,
                login_throttle: Default::default(),
                health: Default::default(),
                saved_health: Default::default(),
                cpu: CpuPool::per_core(),
                password_memory: Default::default(),
                check_budget: RateLimiter::new(RateLimitConfig {
                    per_second: CHECK_LINES_PER_SECOND,
                    burst: CHECK_LINES_BURST,
                }),
                account_changes,
                key_uses: Default::default(),
                accounts: Default::default(),
            }),
        })
    }

    /// Starts the fan-out scheduler, the callback sender and the retention pruner.
    pub fn start_workers(&self) -> Workers {
        let (shutdown, receiver) = watch::channel(false);
        let fanout = &self.inner.config.fanout;
        let scheduler = Scheduler {
            store: Arc::clone(&self.inner.store),
            config: fanout.clone(),
            prefetch_per_domain: self.inner.config.prefetch.per_domain_in_flight.max(1),
            owner: self.inner.owner.clone(),
            wake: Arc::clone(&self.inner.wake),
            events: self.inner.events.clone(),
            callbacks: Arc::clone(&self.inner.callbacks_wake),
            health: self.inner.health.clone(),
        };
        let handles = vec![
            fanout::spawn(scheduler, receiver.clone()),
            crate::callbacks::spawn(
                crate::callbacks::Deliveries {
                    store: Arc::clone(&self.inner.store),
                    master_key: Arc::clone(&self.inner.master_key),
                    zone: self.time_zone().clone(),
                    config: self.inner.config.callbacks.clone(),
                },
                Arc::clone(&self.inner.callbacks_wake),
                receiver.clone(),
            ),
            crate::retention::spawn(
                Arc::clone(&self.inner.store),
                self.inner.config.retention_days,
                receiver.clone(),
            ),
            spawn_relay(self.clone(), receiver),
        ];
        let (keeper_shutdown, keeper_receiver) = watch::channel(false);
        let keeper = crate::health_keeper::HealthKeeper {
            store: Arc::clone(&self.inner.store),
            book: self.inner.health.clone(),
        };
        let keeper = crate::health_keeper::spawn(keeper, keeper_receiver);
        Workers {
            shutdown,
            handles,
            health_keeper: Some((keeper_shutdown, keeper)),
        }
    }

    /// Starts only relaying what other instances announce (progress for this instance's
    /// subscribers), for an instance that serves requests but does no fan-out itself.
    pub fn start_relay(&self) -> Workers {
        let (shutdown, receiver) = watch::channel(false);
        Workers {
            shutdown,
            handles: vec![spawn_relay(self.clone(), receiver)],
            health_keeper: None,
        }
    }

    /// Acts on what other instances sharing the database announce.
    fn relay(&self, signal: StoreSignal) {
        let accounts = &self.inner.accounts;
        if !matches!(signal, StoreSignal::Interrupted) && !accounts.is_armed() {
            // A notification arrived: the listener is back, changes reach this instance again.
            accounts.arm(true);
        }
        match signal {
            StoreSignal::WorkAvailable => self.inner.wake.notify_one(),
            StoreSignal::AccountChanged { user } => accounts.forget_user(user),
            StoreSignal::Interrupted => {
                // What was announced meanwhile is unknown: cache no account, look for work once.
                accounts.arm(false);
                self.inner.wake.notify_one();
            }
            StoreSignal::Progress { origin, events } => {
                if origin == self.inner.owner {
                    return;
                }
                let finished = events.iter().any(|e| e.status.is_final());
                for event in events {
                    let _ = self.inner.events.send(event);
                }
                if finished {
                    self.inner.callbacks_wake.notify_one();
                }
            }
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// This instance's name in leases.
    pub fn instance_name(&self) -> &str {
        &self.inner.owner
    }

    /// The service time zone.
    pub fn time_zone(&self) -> &Zone {
        &self.inner.config.time_zone
    }

    /// Progress events of every task, published after each write.
    pub fn subscribe(&self) -> broadcast::Receiver<ProgressEvent> {
        self.inner.events.subscribe()
    }

    /// The newest applied schema migration.
    pub async fn schema_version(&self) -> Result<Option<i64>, EngineError> {
        Ok(self.inner.store.schema_version().await?)
    }

    /// Whether the database answers and carries every migration this build knows.
    pub async fn is_ready(&self) -> Result<bool, EngineError> {
        Ok(self.inner.store.is_fully_migrated().await?)
    }

    async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        subject: &str,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        let entry = AuditEntry {
            id: 0,
            at: Utc::now(),
            actor_id: actor.id,
            actor: actor.name.clone(),
            action: action.into(),
            subject: subject.into(),
            detail,
        };
        Ok(self.inner.store.append_audit(&entry).await?)
    }

    /// A page of the audit log.
    pub async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, EngineError> {
        Ok(self.inner.store.list_audit(filter).await?)
    }

    /// Folds the database's write-ahead log into its file.
    pub async fn checkpoint(&self) -> Result<(), EngineError> {
        Ok(self.inner.store.checkpoint().await?)
    }

    /// Deletes task details older than the retention period; how many tasks.
    pub async fn prune_now(&self) -> Result<u64, EngineError> {
        let days = self.inner.config.retention_days;
        Ok(crate::retention::prune(self.inner.store.as_ref(), days).await?)
    }
}

fn default_instance_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "purger".into());
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

/// Relays signals from other instances (PostgreSQL's `LISTEN/NOTIFY`) until shutdown; returns at
/// once where the store has none.
fn spawn_relay(engine: Engine, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let span = tracing::info_span!("relay", owner = %engine.inner.owner);
    let run = async move {
        let accounts = &engine.inner.accounts;
        let mut signals = match engine.inner.store.listen().await {
            Ok(Some(signals)) => signals,
            Ok(None) => {
                // The only instance on its database: every change is made here.
                accounts.arm(true);
                return;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for other instances; polling only");
                return;
            }
        };
        tracing::info!("listening for work, progress and account changes of other instances");
        accounts.arm(true);
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                signal = signals.recv() => match signal {
                    Some(signal) => engine.relay(signal),
                    None => break,
                },
            }
        }
        accounts.arm(false);
    };
    tokio::spawn(tracing::Instrument::instrument(run, span))
}
