//! The [`Engine`] handle that the server, the dashboard and the CLI share.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinHandle;

use crate::callback_target::CallbackPolicy;
use crate::config::EngineConfig;
use crate::cpu::CpuPool;
use crate::error::EngineError;
use crate::fanout::{self, client::EdgeClient, ProgressEvent, Scheduler};
use crate::fleet::{EdgeGroup, EdgeNode, GroupId, NodeId, NodeLine, Protocol};
use crate::ids::{BatchId, TaskId};
use crate::keys::{generate_public_id, lookup_hash, ApiKeySecret, KeyError, MasterKey};
use crate::passwords::{hash_password, VerifierMemory, MIN_PASSWORD_LEN};
use crate::rate_limit::{RateLimitConfig, RateLimiter};
use crate::report::{SeedQueryBody, TaskReport};
use crate::store::{
    self, ApiKeyInfo, AuditEntry, AuditFilter, DomainInfo, GroupWithNodes, NewApiKey, Store,
    StoreSignal, TaskFilter, UserUpdate,
};
use crate::submit::{self, QuotaSnapshot, Submission, SubmitError, SubmitOutcome};
use crate::target::DomainName;
use crate::tasks::{TaskRecord, TaskStatus};
use crate::time::{QuotaDay, Zone};
use crate::users::{valid_username, NewUser, QuotaOverrides, Role, User, UserId, MAX_USERNAME_LEN};

/// Who does something, for the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The user, if a person did it.
    pub id: Option<UserId>,
    /// User name, or `cli` / `system`.
    pub name: String,
}

impl Actor {
    /// The operator CLI.
    pub fn cli() -> Self {
        Self {
            id: None,
            name: "cli".into(),
        }
    }
    /// A signed-in user.
    pub fn user(user: &User) -> Self {
        Self {
            id: Some(user.id),
            name: user.username.clone(),
        }
    }
}

/// Why an API key was not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No such key, or revoked.
    #[error("unknown or revoked API key")]
    UnknownKey,
    /// The key's user is disabled.
    #[error("user disabled")]
    UserDisabled,
    /// Seed 004: unknown or disabled user name.
    #[error("username is invalid")]
    UnknownUser,
    /// Seed 004: no key of the user produces this signature.
    #[error("signature invalid")]
    BadSignature,
}

/// Why a sign-in was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignInFailure {
    /// Longer than any user name can be: refused before anything is looked up or counted.
    #[error("user name too long")]
    NameTooLong,
    /// Unknown user, wrong password, or disabled user (not told apart).
    #[error("wrong user name or password")]
    BadCredentials,
    /// Too many failures from this address for this user name recently.
    #[error("too many failed sign-ins; try again in 15 minutes")]
    Throttled,
    /// Too many failures from this address recently, whatever the names.
    #[error("too many failed sign-ins from your address; try again later")]
    AddressThrottled,
    /// Every password check slot is taken: try again in a moment.
    #[error("the server is busy; try again in a moment")]
    Busy,
}

/// Result of importing node lines.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NodeImport {
    /// New nodes.
    pub added: u32,
    /// Nodes that existed.
    pub updated: u32,
    /// Lines refused: line number (from 1) and why.
    pub refused: Vec<(usize, String)>,
}

/// A cheap-to-clone handle on the purge engine and its store.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: EngineConfig,
    master_key: MasterKey,
    callback_policy: CallbackPolicy,
    events: broadcast::Sender<ProgressEvent>,
    wake: Arc<Notify>,
    callbacks_wake: Arc<Notify>,
    owner: String,
    login_throttle: crate::sessions::LoginThrottle,
    health: crate::fanout::health::HealthBook,
    cpu: CpuPool,
    password_memory: Arc<VerifierMemory>,
    /// Lines the dashboard may check per session (regex compilation is not free).
    check_budget: RateLimiter<Vec<u8>>,
    /// The user whose sessions, role or enabled flag just changed (open event streams re-check).
    account_changes: broadcast::Sender<UserId>,
}

/// Lines per second the dashboard's inline validation may check per session.
const CHECK_LINES_PER_SECOND: f64 = 200.0;
/// Lines it may check at once before that rate applies.
const CHECK_LINES_BURST: f64 = 1000.0;

/// The background workers of an engine; stop them with [`Workers::shutdown`].
pub struct Workers {
    shutdown: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Stops claiming, writes what is known, gives leases back and waits for the workers.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for handle in self.handles {
            let _ = handle.await;
        }
    }

    /// Stops the workers at once without writing or releasing anything, as a crash would.
    pub fn abort(self) {
        for handle in &self.handles {
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
                master_key,
                callback_policy,
                events,
                wake: Arc::new(Notify::new()),
                callbacks_wake: Arc::new(Notify::new()),
                owner,
                login_throttle: Default::default(),
                health: Default::default(),
                cpu: CpuPool::per_core(),
                password_memory: Default::default(),
                check_budget: RateLimiter::new(RateLimitConfig {
                    per_second: CHECK_LINES_PER_SECOND,
                    burst: CHECK_LINES_BURST,
                }),
                account_changes,
            }),
        })
    }

    /// Starts the fan-out scheduler, the callback sender and the retention pruner.
    pub fn start_workers(&self) -> Workers {
        let (shutdown, receiver) = watch::channel(false);
        let fanout = &self.inner.config.fanout;
        let scheduler = Scheduler {
            store: Arc::clone(&self.inner.store),
            client: EdgeClient::new(
                std::time::Duration::from_millis(fanout.request_timeout_ms),
                std::time::Duration::from_millis(fanout.connect_timeout_ms),
                fanout.idle_connections_per_node.max(1),
            ),
            config: fanout.clone(),
            owner: self.inner.owner.clone(),
            wake: Arc::clone(&self.inner.wake),
            events: self.inner.events.clone(),
            callbacks: Arc::clone(&self.inner.callbacks_wake),
            health: self.inner.health.clone(),
        };
        let handles = vec![
            fanout::spawn(scheduler, receiver.clone()),
            crate::callbacks::spawn(
                self.clone(),
                Arc::clone(&self.inner.callbacks_wake),
                receiver.clone(),
            ),
            crate::retention::spawn(self.clone(), receiver.clone()),
            spawn_relay(self.clone(), receiver),
        ];
        Workers { shutdown, handles }
    }

    /// Starts only relaying what other instances announce (progress for this instance's
    /// subscribers), for an instance that serves requests but does no fan-out itself.
    pub fn start_relay(&self) -> Workers {
        let (shutdown, receiver) = watch::channel(false);
        Workers {
            shutdown,
            handles: vec![spawn_relay(self.clone(), receiver)],
        }
    }

    /// Acts on what other instances sharing the database announce.
    fn relay(&self, signal: StoreSignal) {
        match signal {
            StoreSignal::WorkAvailable => self.inner.wake.notify_one(),
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

    /// The store (for the engine's own workers).
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
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

    // --- users ---

    /// Creates a user, with a dashboard password if given.
    pub async fn create_user(
        &self,
        actor: &Actor,
        username: &str,
        role: Role,
        password: Option<&str>,
    ) -> Result<User, EngineError> {
        if !valid_username(username) {
            return Err(EngineError::Invalid(format!(
                "a user name is 1 to {MAX_USERNAME_LEN} letters, digits, '.', '_', '-' or '@'"
            )));
        }
        let password_hash = match password {
            Some(password) => Some(self.checked_password_hash(password).await?),
            None => None,
        };
        let user = self
            .inner
            .store
            .create_user(
                &NewUser {
                    username: username.into(),
                    role,
                    password_hash,
                },
                Utc::now(),
            )
            .await?;
        self.audit(
            actor,
            "user.create",
            username,
            serde_json::json!({ "role": role.as_str() }),
        )
        .await?;
        Ok(user)
    }

    /// A user by name.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, EngineError> {
        Ok(self.inner.store.user_by_name(username).await?)
    }

    /// A user by id.
    pub async fn user_by_id(&self, id: UserId) -> Result<Option<User>, EngineError> {
        Ok(self.inner.store.user_by_id(id).await?)
    }

    /// Every user.
    pub async fn list_users(&self) -> Result<Vec<User>, EngineError> {
        Ok(self.inner.store.list_users().await?)
    }

    /// Changes a user (role, enabled, may purge, time zone, quota); a new password is hashed here.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: UserId,
        mut update: UserUpdate,
        password: Option<&str>,
    ) -> Result<User, EngineError> {
        if let Some(zone) = &update.time_zone {
            Zone::parse(zone).map_err(|e| EngineError::Invalid(e.to_string()))?;
        }
        if let Some(password) = password {
            update.password_hash = Some(self.checked_password_hash(password).await?);
        }
        let user = self
            .inner
            .store
            .update_user(id, &update)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("user {}", id.0)))?;
        let detail = serde_json::json!({
            "role": update.role.map(Role::as_str),
            "enabled": update.enabled,
            "can_purge": update.can_purge,
            "password_changed": password.is_some(),
            "time_zone": update.time_zone,
            "quota": update.quota,
        });
        self.audit(actor, "user.update", &user.username, detail)
            .await?;
        // Open event streams of the user re-check their session (a new password ends the
        // sessions opened with the old one, see `session_user`).
        let _ = self.inner.account_changes.send(user.id);
        Ok(user)
    }

    /// Sets a user's quota overrides.
    pub async fn set_quota(
        &self,
        actor: &Actor,
        id: UserId,
        quota: QuotaOverrides,
    ) -> Result<User, EngineError> {
        self.update_user(
            actor,
            id,
            UserUpdate {
                quota: Some(quota),
                ..Default::default()
            },
            None,
        )
        .await
    }

    /// The user, if `password` is theirs and they are enabled.
    pub async fn authenticate_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, EngineError> {
        Ok(self
            .verify_password_of(username, password)
            .await?
            .map(|(user, _)| user))
    }

    /// The enabled user and their password hash, if `password` is theirs. The argon2 check runs
    /// on the CPU pool, never on an async worker.
    async fn verify_password_of(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<(User, String)>, EngineError> {
        let found = self.inner.store.user_with_password(username).await?;
        let password = password.to_owned();
        let memory = Arc::clone(&self.inner.password_memory);
        let Some((user, Some(hash))) = found else {
            // Spend the same time as a real check, so that timing does not reveal user names.
            self.inner
                .cpu
                .run(move || memory.verify(&password, dummy_hash()))
                .await?;
            return Ok(None);
        };
        let checked = hash.clone();
        let matches = self
            .inner
            .cpu
            .run(move || memory.verify(&password, &checked))
            .await?;
        Ok((matches && user.enabled).then_some((user, hash)))
    }

    /// Hashes a new password on the CPU pool, after checking its length.
    async fn checked_password_hash(&self, password: &str) -> Result<String, EngineError> {
        if password.chars().count() < MIN_PASSWORD_LEN {
            return Err(EngineError::Invalid(format!(
                "a password has at least {MIN_PASSWORD_LEN} characters"
            )));
        }
        let password = password.to_owned();
        Ok(self.inner.cpu.run(move || hash_password(&password)).await?)
    }

    // --- dashboard sessions ---

    /// Signs a user in from `client`: a session token for the cookie, or why not.
    ///
    /// Guesses are counted per (client, name) and per client before the password is checked,
    /// so that concurrent guesses cannot pass the limit together (see [`crate::sessions`]).
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        client: std::net::IpAddr,
    ) -> Result<Result<(User, String), SignInFailure>, EngineError> {
        if username.len() > MAX_USERNAME_LEN {
            return Ok(Err(SignInFailure::NameTooLong));
        }
        let attempt = match self.inner.login_throttle.begin(client, username) {
            Ok(attempt) => attempt,
            Err(crate::sessions::Throttled::Pair) => return Ok(Err(SignInFailure::Throttled)),
            Err(crate::sessions::Throttled::Address) => {
                return Ok(Err(SignInFailure::AddressThrottled))
            }
        };
        let (user, hash) = match self.verify_password_of(username, password).await {
            Ok(Some(found)) => found,
            Ok(None) => {
                attempt.failed();
                return Ok(Err(SignInFailure::BadCredentials));
            }
            Err(EngineError::Busy(_)) => return Ok(Err(SignInFailure::Busy)),
            Err(error) => return Err(error),
        };
        attempt.succeeded();
        let token = self.open_session(user.id, &hash).await?;
        Ok(Ok((user, token)))
    }

    async fn open_session(&self, user: UserId, password_hash: &str) -> Result<String, EngineError> {
        let token = crate::sessions::new_token(&crate::sessions::password_stamp(password_hash));
        let now = Utc::now();
        let expires =
            now + chrono::Duration::hours(i64::from(self.inner.config.session_hours.max(1)));
        self.inner
            .store
            .create_session(&lookup_hash(&token), user, now, expires)
            .await?;
        Ok(token)
    }

    /// The enabled user of a session token, while their password is the one it was opened with.
    pub async fn session_user(&self, token: &str) -> Result<Option<User>, EngineError> {
        let Some(stamp) = crate::sessions::token_stamp(token) else {
            return Ok(None);
        };
        let Some(user) = self
            .inner
            .store
            .session_user(&lookup_hash(token), Utc::now())
            .await?
        else {
            return Ok(None);
        };
        let current = self.inner.store.user_with_password(&user.username).await?;
        let Some((user, Some(hash))) = current else {
            return Ok(None);
        };
        if crate::sessions::password_stamp(&hash) != stamp {
            self.inner.store.delete_session(&lookup_hash(token)).await?;
            return Ok(None);
        }
        Ok(user.enabled.then_some(user))
    }

    /// Ends a session.
    pub async fn sign_out(&self, token: &str) -> Result<(), EngineError> {
        let hash = lookup_hash(token);
        let user = self.inner.store.session_user(&hash, Utc::now()).await?;
        self.inner.store.delete_session(&hash).await?;
        if let Some(user) = user {
            let _ = self.inner.account_changes.send(user.id);
        }
        Ok(())
    }

    /// Changes the password of the session's user: every other session of theirs ends, and this
    /// one goes on under the new token returned (`None` when `current` is wrong). Wrong current
    /// passwords count against `client` as failed sign-ins do.
    pub async fn change_password(
        &self,
        token: &str,
        current: &str,
        new_password: &str,
        client: std::net::IpAddr,
    ) -> Result<Option<String>, EngineError> {
        let Some(user) = self.session_user(token).await? else {
            return Ok(None);
        };
        let Ok(attempt) = self.inner.login_throttle.begin(client, &user.username) else {
            return Err(EngineError::Invalid(SignInFailure::Throttled.to_string()));
        };
        if self
            .verify_password_of(&user.username, current)
            .await?
            .is_none()
        {
            attempt.failed();
            return Ok(None);
        }
        attempt.succeeded();
        self.update_user(
            &Actor::user(&user),
            user.id,
            UserUpdate::default(),
            Some(new_password),
        )
        .await?;
        self.inner.store.delete_session(&lookup_hash(token)).await?;
        let Some((_, Some(hash))) = self.inner.store.user_with_password(&user.username).await?
        else {
            return Err(EngineError::NotFound(format!("user {}", user.username)));
        };
        Ok(Some(self.open_session(user.id, &hash).await?))
    }

    /// Users whose sessions, role or enabled flag changed on this instance, as they change.
    pub fn account_changes(&self) -> broadcast::Receiver<UserId> {
        self.inner.account_changes.subscribe()
    }

    // --- API keys ---

    /// Creates a key for `user`; the secret is returned once and never stored in clear.
    pub async fn create_key(
        &self,
        actor: &Actor,
        user: UserId,
        label: &str,
    ) -> Result<(ApiKeyInfo, ApiKeySecret), EngineError> {
        let secret = ApiKeySecret::generate();
        let info = self
            .store_key(actor, user, label, &secret, "key.create")
            .await?;
        Ok((info, secret))
    }

    /// Carries an existing key of the old systems over as is.
    pub async fn import_key(
        &self,
        actor: &Actor,
        user: UserId,
        key: &str,
        label: &str,
    ) -> Result<ApiKeyInfo, EngineError> {
        let secret = ApiKeySecret::import(key)?;
        self.store_key(actor, user, label, &secret, "key.import")
            .await
    }

    async fn store_key(
        &self,
        actor: &Actor,
        user: UserId,
        label: &str,
        secret: &ApiKeySecret,
        action: &str,
    ) -> Result<ApiKeyInfo, EngineError> {
        if label.chars().count() > 100 {
            return Err(EngineError::Invalid(
                "a key label is at most 100 characters".into(),
            ));
        }
        let owner = self
            .user_by_id(user)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("user {}", user.0)))?;
        let cap = self.inner.config.max_keys_per_user;
        let live = self
            .inner
            .store
            .list_api_keys(user)
            .await?
            .iter()
            .filter(|key| key.revoked_at.is_none())
            .count();
        if live >= cap as usize {
            return Err(EngineError::Invalid(format!(
                "{} already holds {live} live API keys (the most is {cap}); revoke one first",
                owner.username
            )));
        }
        let info = self
            .inner
            .store
            .insert_api_key(&NewApiKey {
                user_id: user,
                public_id: generate_public_id(),
                label: label.into(),
                key_hash: secret.lookup_hash(),
                key_sealed: self.inner.master_key.seal(secret),
                created_at: Utc::now(),
            })
            .await?;
        self.audit(
            actor,
            action,
            &info.public_id,
            serde_json::json!({ "user": owner.username, "label": label }),
        )
        .await?;
        Ok(info)
    }

    /// A user's keys.
    pub async fn list_keys(&self, user: UserId) -> Result<Vec<ApiKeyInfo>, EngineError> {
        Ok(self.inner.store.list_api_keys(user).await?)
    }

    /// Revokes a key of `user`.
    pub async fn revoke_key(
        &self,
        actor: &Actor,
        user: UserId,
        public_id: &str,
    ) -> Result<(), EngineError> {
        if !self
            .inner
            .store
            .revoke_api_key(user, public_id, Utc::now())
            .await?
        {
            return Err(EngineError::NotFound(format!("API key {public_id}")));
        }
        self.audit(actor, "key.revoke", public_id, serde_json::json!({}))
            .await
    }

    /// The key and its enabled user for a key string (seed 000's `api_key`, v1 bearer tokens).
    pub async fn authenticate_key(
        &self,
        key: &str,
    ) -> Result<Result<(ApiKeyInfo, User), AuthFailure>, EngineError> {
        let Some((info, user)) = self.inner.store.api_key_by_hash(&lookup_hash(key)).await? else {
            return Ok(Err(AuthFailure::UnknownKey));
        };
        if info.revoked_at.is_some() {
            return Ok(Err(AuthFailure::UnknownKey));
        }
        if !user.enabled {
            return Ok(Err(AuthFailure::UserDisabled));
        }
        self.touch_key(info.id);
        Ok(Ok((info, user)))
    }

    /// Seed 004: the user and the key whose `base64(HMAC-SHA1(key, date))` is `password`.
    pub async fn authenticate_seed004(
        &self,
        username: &str,
        date: &str,
        password: &str,
    ) -> Result<Result<(ApiKeyInfo, User), AuthFailure>, EngineError> {
        let Some(user) = self.inner.store.user_by_name(username).await? else {
            return Ok(Err(AuthFailure::UnknownUser));
        };
        if !user.enabled {
            return Ok(Err(AuthFailure::UnknownUser));
        }
        for (info, sealed) in self.inner.store.sealed_keys_of_user(user.id).await? {
            let secret = self.inner.master_key.open(&sealed)?;
            if secret.verifies_seed004(date, password) {
                self.touch_key(info.id);
                return Ok(Ok((info, user)));
            }
        }
        Ok(Err(AuthFailure::BadSignature))
    }

    fn touch_key(&self, key_id: i64) {
        let store = Arc::clone(&self.inner.store);
        tokio::spawn(async move {
            if let Err(error) = store.touch_api_key(key_id, Utc::now()).await {
                tracing::debug!(%error, "recording key use failed");
            }
        });
    }

    /// `sha256=<hex>` over `body` with the key `key_id`, or `None` when the key is gone.
    pub async fn sign_with_key(
        &self,
        key_id: i64,
        body: &[u8],
    ) -> Result<Option<String>, EngineError> {
        let Some(sealed) = self.inner.store.sealed_key(key_id).await? else {
            return Ok(None);
        };
        let secret = self
            .inner
            .master_key
            .open(&sealed)
            .map_err(|_| EngineError::Key(KeyError::Unseal))?;
        Ok(Some(secret.sign_callback(body)))
    }

    // --- domains and fleet ---

    /// Creates a domain (or extends it) with users who may purge it and groups that serve it.
    pub async fn add_domain(
        &self,
        actor: &Actor,
        host: &str,
        users: &[String],
        groups: &[String],
    ) -> Result<DomainInfo, EngineError> {
        let host = DomainName::parse(host).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let mut user_ids = Vec::new();
        for name in users {
            let user = self
                .user_by_name(name)
                .await?
                .ok_or_else(|| EngineError::NotFound(format!("user {name}")))?;
            user_ids.push(user.id);
        }
        let mut group_ids = Vec::new();
        for name in groups {
            let group = self
                .inner
                .store
                .group_by_name(name)
                .await?
                .ok_or_else(|| EngineError::NotFound(format!("edge group {name}")))?;
            group_ids.push(group.id);
        }
        let id = self.inner.store.upsert_domain(&host, Utc::now()).await?;
        for user in user_ids {
            self.inner.store.assign_domain_user(id, user).await?;
        }
        for group in group_ids {
            self.inner.store.assign_domain_group(id, group).await?;
        }
        self.audit(
            actor,
            "domain.update",
            host.as_str(),
            serde_json::json!({ "users": users, "groups": groups }),
        )
        .await?;
        self.inner
            .store
            .domain_by_host(host.as_str())
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("domain {host}")))
    }

    /// Takes users or groups off a domain.
    pub async fn remove_from_domain(
        &self,
        actor: &Actor,
        host: &str,
        users: &[String],
        groups: &[String],
    ) -> Result<(), EngineError> {
        let domain = self
            .inner
            .store
            .domain_by_host(&host.trim().to_ascii_lowercase())
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("domain {host}")))?;
        for name in users {
            if let Some(user) = self.user_by_name(name).await? {
                self.inner
                    .store
                    .unassign_domain_user(domain.id, user.id)
                    .await?;
            }
        }
        for name in groups {
            if let Some(group) = self.inner.store.group_by_name(name).await? {
                self.inner
                    .store
                    .unassign_domain_group(domain.id, group.id)
                    .await?;
            }
        }
        self.audit(
            actor,
            "domain.unassign",
            host,
            serde_json::json!({ "users": users, "groups": groups }),
        )
        .await
    }

    /// Every domain with its assignments.
    pub async fn list_domains(&self) -> Result<Vec<DomainInfo>, EngineError> {
        Ok(self.inner.store.list_domains().await?)
    }

    /// The domains a user may purge.
    pub async fn domains_of_user(&self, user: UserId) -> Result<Vec<DomainName>, EngineError> {
        Ok(self
            .inner
            .store
            .domains_of_user(user)
            .await?
            .into_iter()
            .map(|(_, d)| d)
            .collect())
    }

    /// Creates an edge group or changes its protocol.
    pub async fn upsert_group(
        &self,
        actor: &Actor,
        name: &str,
        protocol: Protocol,
    ) -> Result<EdgeGroup, EngineError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(EngineError::Invalid(
                "a group name is 1 to 64 characters".into(),
            ));
        }
        let group = self
            .inner
            .store
            .upsert_group(name, &protocol, Utc::now())
            .await?;
        self.audit(
            actor,
            "group.update",
            name,
            serde_json::to_value(&protocol).unwrap_or_default(),
        )
        .await?;
        Ok(group)
    }

    /// Every group with its nodes.
    pub async fn list_groups(&self) -> Result<Vec<GroupWithNodes>, EngineError> {
        Ok(self.inner.store.list_groups().await?)
    }

    /// Imports CSV lines `ip,port[,enabled]` into a group; bad lines are refused one by one.
    pub async fn import_nodes(
        &self,
        actor: &Actor,
        group: &str,
        csv: &str,
    ) -> Result<NodeImport, EngineError> {
        let group = self
            .inner
            .store
            .group_by_name(group)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("edge group {group}")))?;
        let mut lines = Vec::new();
        let mut report = NodeImport::default();
        for (number, line) in csv.lines().enumerate() {
            match NodeLine::parse(line) {
                Ok(Some(line)) => lines.push(line),
                Ok(None) => {}
                Err(error) => report.refused.push((number + 1, error)),
            }
        }
        let counts = self
            .inner
            .store
            .import_nodes(group.id, &lines, Utc::now())
            .await?;
        report.added = counts.added;
        report.updated = counts.updated;
        self.audit(
            actor,
            "nodes.import",
            &group.name,
            serde_json::json!({
                "added": report.added, "updated": report.updated, "refused": report.refused.len(),
            }),
        )
        .await?;
        Ok(report)
    }

    /// Enables or disables a node.
    pub async fn set_node_enabled(
        &self,
        actor: &Actor,
        node: NodeId,
        enabled: bool,
    ) -> Result<EdgeNode, EngineError> {
        let node = self
            .inner
            .store
            .set_node_enabled(node, enabled)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("node {}", node.0)))?;
        let action = if enabled {
            "node.enable"
        } else {
            "node.disable"
        };
        self.audit(
            actor,
            action,
            &format!("{}:{}", node.ip, node.port),
            serde_json::json!({ "node": node.id.0 }),
        )
        .await?;
        Ok(node)
    }

    /// The group of a node set entry (for reports).
    pub async fn group_by_name(&self, name: &str) -> Result<Option<EdgeGroup>, EngineError> {
        Ok(self.inner.store.group_by_name(name).await?)
    }

    // --- purges ---

    /// The quota day containing now.
    pub fn quota_day(&self) -> QuotaDay {
        QuotaDay::containing(Utc::now(), self.time_zone())
    }

    /// A user's quota today.
    pub async fn quota_status(&self, user: &User) -> Result<QuotaSnapshot, EngineError> {
        let day = self.quota_day();
        let used = self.inner.store.quota_used(user.id, &day.key()).await?;
        Ok(QuotaSnapshot {
            day,
            limits: user.quota.resolve(&self.inner.config.quota),
            used_before: used,
            used,
        })
    }

    /// A user's daily usage between two quota days (inclusive), as `(YYYY-MM-DD, usage)`.
    pub async fn quota_history(
        &self,
        user: UserId,
        first: chrono::NaiveDate,
        last: chrono::NaiveDate,
    ) -> Result<Vec<(String, crate::quota::QuotaUsage)>, EngineError> {
        let key = |day: chrono::NaiveDate| day.format("%Y-%m-%d").to_string();
        Ok(self
            .inner
            .store
            .quota_history(user, &key(first), &key(last))
            .await?)
    }

    /// Accepts what fits of a submission in one transaction and wakes the workers.
    #[tracing::instrument(skip_all, fields(user = %user.username, targets = submission.targets.len()))]
    pub async fn submit(
        &self,
        user: &User,
        submission: Submission,
    ) -> Result<SubmitOutcome, SubmitError> {
        let now = Utc::now();
        let submission_source = submission.source;
        if let Some(url) = &submission.callback_url {
            self.inner.callback_policy.resolve(url).await?;
        }
        let domains = self.inner.store.domains_of_user(user.id).await?;
        let limits = user.quota.resolve(&self.inner.config.quota);
        let day = QuotaDay::containing(now, self.time_zone());
        // Compiling up to 500 regexes takes a while: not on an async worker.
        let mut prepared = if submission
            .targets
            .iter()
            .any(|(kind, _)| *kind == crate::target::TargetKind::Regex)
        {
            let (owner, zone_day, known) = (user.clone(), day, domains.clone());
            self.inner
                .cpu
                .run(move || submit::prepare(&owner, &submission, &known, limits, &zone_day, now))
                .await??
        } else {
            submit::prepare(user, &submission, &domains, limits, &day, now)?
        };
        let used = self.inner.store.quota_used(user.id, &day.key()).await?;
        if prepared.batch.tasks.is_empty() {
            count_verdicts(submission_source, &prepared.verdicts);
            return Ok(SubmitOutcome {
                batch_id: None,
                replayed: false,
                verdicts: prepared.verdicts,
                quota: QuotaSnapshot {
                    day,
                    limits,
                    used_before: used,
                    used,
                },
            });
        }
        let write = self.inner.store.write_batch(&prepared.batch).await?;
        match write {
            crate::store::BatchWrite::Replayed { batch_id } => {
                let tasks = self.inner.store.tasks_of_batch(&batch_id).await?;
                let verdicts = tasks
                    .into_iter()
                    .map(|task| submit::TargetVerdict {
                        kind: task.kind,
                        result: Ok(submit::AcceptedTask::existing(&task)),
                        target: task.target,
                    })
                    .collect();
                Ok(SubmitOutcome {
                    batch_id: Some(batch_id),
                    replayed: true,
                    verdicts,
                    quota: QuotaSnapshot {
                        day,
                        limits,
                        used_before: used,
                        used,
                    },
                })
            }
            crate::store::BatchWrite::ClientTaskExists { task } => {
                let same = prepared.batch.tasks.len() == 1
                    && prepared.batch.tasks[0].target == task.target;
                if !same {
                    return Err(SubmitError::ClientTaskConflict(
                        task.client_task_id.unwrap_or_default(),
                    ));
                }
                Ok(SubmitOutcome {
                    batch_id: Some(task.batch_id.clone()),
                    replayed: true,
                    verdicts: vec![submit::TargetVerdict {
                        kind: task.kind,
                        target: task.target.clone(),
                        result: Ok(submit::AcceptedTask::existing(&task)),
                    }],
                    quota: QuotaSnapshot {
                        day,
                        limits,
                        used_before: used,
                        used,
                    },
                })
            }
            crate::store::BatchWrite::Written { .. } => {
                let (used_before, used_after) =
                    submit::apply_write(&mut prepared, &write).unwrap_or((used, used));
                count_verdicts(submission_source, &prepared.verdicts);
                let accepted = prepared.verdicts.iter().any(|v| v.result.is_ok());
                if accepted {
                    self.inner.wake.notify_one();
                }
                Ok(SubmitOutcome {
                    batch_id: accepted.then(|| prepared.batch.id.clone()),
                    replayed: false,
                    verdicts: prepared.verdicts,
                    quota: QuotaSnapshot {
                        day,
                        limits,
                        used_before,
                        used: used_after,
                    },
                })
            }
        }
    }

    /// Checks lines of one kind as the dashboard validates them while the user types: at most the
    /// user's per-request number of lines, parsed on the CPU pool, and no more lines per second
    /// per session than 200 (after a burst of 1000). `Err(wait)` when the session must wait.
    pub async fn check_targets(
        &self,
        session_token: &str,
        user: &User,
        kind: crate::target::TargetKind,
        text: &str,
    ) -> Result<Result<Vec<submit::LineCheck>, std::time::Duration>, EngineError> {
        let limit = user.quota.resolve(&self.inner.config.quota).batch as usize;
        let lines: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .take(limit)
            .map(str::to_owned)
            .collect();
        if let Err(wait) = self
            .inner
            .check_budget
            .take(lookup_hash(session_token), lines.len() as f64)
        {
            return Ok(Err(wait));
        }
        let domains = self.inner.store.domains_of_user(user.id).await?;
        let checks = self
            .inner
            .cpu
            .run(move || submit::check_lines(kind, lines, &domains))
            .await?;
        Ok(Ok(checks))
    }

    /// A task, if `viewer` may see it (`None` sees every task: admins and the CLI).
    pub async fn task(
        &self,
        id: &str,
        viewer: Option<UserId>,
    ) -> Result<Option<TaskRecord>, EngineError> {
        let Some(id) = TaskId::parse(id) else {
            return Ok(None);
        };
        let task = self.inner.store.task(&id).await?;
        Ok(task.filter(|task| viewer.is_none_or(|viewer| viewer == task.user_id)))
    }

    /// The tasks of a batch, if `viewer` may see it.
    pub async fn batch_tasks(
        &self,
        id: &str,
        viewer: Option<UserId>,
    ) -> Result<Option<Vec<TaskRecord>>, EngineError> {
        let Some(id) = BatchId::parse(id) else {
            return Ok(None);
        };
        let Some(batch) = self.inner.store.batch(&id).await? else {
            return Ok(None);
        };
        if viewer.is_some_and(|viewer| viewer != batch.user_id) {
            return Ok(None);
        }
        Ok(Some(self.inner.store.tasks_of_batch(&id).await?))
    }

    /// The newest task of `user` for exactly this target text (seed 000's `/api/q`).
    pub async fn latest_task_for_target(
        &self,
        user: UserId,
        target: &str,
    ) -> Result<Option<TaskRecord>, EngineError> {
        Ok(self
            .inner
            .store
            .latest_task_for_target(user, target)
            .await?)
    }

    /// A page of tasks.
    pub async fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, EngineError> {
        Ok(self.inner.store.list_tasks(filter).await?)
    }

    /// A task's per-node results.
    pub async fn task_report(&self, task: TaskRecord) -> Result<TaskReport, EngineError> {
        let nodes = match task.node_set_id {
            Some(id) => self.inner.store.node_set(id).await?.unwrap_or_default(),
            None => Vec::new(),
        };
        let failures = if task.failed > 0 {
            self.inner.store.task_failures(&task.id).await?
        } else {
            Vec::new()
        };
        let confirmed = if task.status == TaskStatus::Running {
            self.inner.store.task_confirmed(&task.id).await?
        } else {
            None
        };
        Ok(TaskReport::build(
            task,
            &nodes,
            confirmed.as_ref(),
            failures,
        ))
    }

    /// Seed 000's query body for a task.
    pub async fn seed_query_body(&self, task: &TaskRecord) -> Result<SeedQueryBody, EngineError> {
        let report = self.task_report(task.clone()).await?;
        Ok(SeedQueryBody::from_report(report, self.time_zone()))
    }

    /// Asks a failed task's failed nodes again (not `unsupported` ones); false when there is
    /// nothing to retry.
    pub async fn retry_task(
        &self,
        actor: &Actor,
        id: &str,
        viewer: Option<UserId>,
    ) -> Result<bool, EngineError> {
        let task = self
            .task(id, viewer)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("task {id}")))?;
        let requeued = self.inner.store.requeue_failed_nodes(&task.id).await?;
        if requeued {
            self.audit(
                actor,
                "task.retry",
                task.id.as_str(),
                serde_json::json!({ "target": task.target }),
            )
            .await?;
            self.inner.wake.notify_one();
        }
        Ok(requeued)
    }

    /// How many tasks wait and run.
    pub async fn queue_depth(&self) -> Result<QueueDepth, EngineError> {
        let (created, running) = self.inner.store.pending_counts().await?;
        Ok(QueueDepth { created, running })
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
        if days == 0 {
            return Ok(0);
        }
        let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
        Ok(self.inner.store.prune_tasks(cutoff).await?)
    }

    /// Recent results per node, as seen by this instance's workers.
    pub fn node_health(
        &self,
    ) -> std::collections::HashMap<NodeId, crate::fanout::health::NodeHealth> {
        self.inner.health.snapshot()
    }

    /// The group id of a name, for callers that manage nodes by group.
    pub async fn group_id(&self, name: &str) -> Result<Option<GroupId>, EngineError> {
        Ok(self.inner.store.group_by_name(name).await?.map(|g| g.id))
    }
}

/// A hash of a random password: verifying against it costs what a real check costs.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&format!("{:x}", rand::random::<u128>())))
}

/// Counts accepted and refused targets for `/metrics`.
fn count_verdicts(source: submit::Source, verdicts: &[submit::TargetVerdict]) {
    for verdict in verdicts {
        match &verdict.result {
            Ok(_) => metrics::counter!("purger_targets_accepted_total", "api" => source.as_str())
                .increment(1),
            Err(refusal) => {
                let code = match refusal {
                    submit::Refusal::Invalid(_) => "invalid_target",
                    submit::Refusal::NotYourDomain => "not_your_domain",
                    submit::Refusal::StillRunning => "still_running",
                    submit::Refusal::OverQuota => "over_quota",
                };
                metrics::counter!("purger_targets_refused_total", "api" => source.as_str(), "code" => code).increment(1);
            }
        }
    }
}

/// Tasks waiting for a worker and tasks being fanned out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// `created` tasks.
    pub created: u64,
    /// `running` tasks.
    pub running: u64,
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
    tokio::spawn(async move {
        let mut signals = match engine.inner.store.listen().await {
            Ok(Some(signals)) => signals,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%error, "cannot listen for other instances; polling only");
                return;
            }
        };
        tracing::info!("listening for work and progress of other instances");
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                signal = signals.recv() => match signal {
                    Some(signal) => engine.relay(signal),
                    None => return,
                },
            }
        }
    })
}
