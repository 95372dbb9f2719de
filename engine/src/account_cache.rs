//! What an authenticated request needs of its account, kept in memory: the API key and its user
//! by lookup hash, and the user's domains, so that a busy key is not read from the database on
//! every request.
//!
//! A change to a user, to their keys or to their domains forgets that user's entries at once, on this instance
//! directly and on the others through the store's notifications. The cache serves only while such
//! notifications are sure to arrive (`armed`): always on SQLite, where one instance owns the
//! database; on PostgreSQL while this instance listens, and not again after an interruption until
//! a notification proves the listener is back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::store::ApiKeyInfo;
use crate::target::DomainName;
use crate::users::{User, UserId};

/// Entries kept at most; past it the cache starts again empty (only valid keys get in).
const MAX_ENTRIES: usize = 10_000;

/// A user's domains with their ids.
pub(crate) type UserDomains = Vec<(i64, DomainName)>;

/// The cache; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct AccountCache {
    state: Mutex<State>,
    armed: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<Vec<u8>, (ApiKeyInfo, User)>,
    domains: HashMap<UserId, UserDomains>,
    /// Bumped by every forgetting: a lookup that read the database before one must not fill.
    generation: u64,
}

impl AccountCache {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The key and user of `hash`, when cached and the cache serves.
    pub(crate) fn get(&self, hash: &[u8]) -> Option<(ApiKeyInfo, User)> {
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        self.state().entries.get(hash).cloned()
    }

    /// The generation to pass to [`insert`](Self::insert), taken before reading the database.
    pub(crate) fn generation(&self) -> u64 {
        self.state().generation
    }

    /// Keeps what the database said of `hash` when nothing was forgotten since `generation`.
    pub(crate) fn insert(&self, hash: &[u8], entry: (ApiKeyInfo, User), generation: u64) {
        if !self.armed.load(Ordering::Acquire) {
            return;
        }
        let mut state = self.state();
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.clear();
        }
        state.entries.insert(hash.to_vec(), entry);
    }

    /// The domains of `user`, when cached and the cache serves.
    pub(crate) fn domains(&self, user: UserId) -> Option<UserDomains> {
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        self.state().domains.get(&user).cloned()
    }

    /// Keeps the domains of `user` when nothing was forgotten since `generation`.
    pub(crate) fn insert_domains(&self, user: UserId, domains: UserDomains, generation: u64) {
        if !self.armed.load(Ordering::Acquire) {
            return;
        }
        let mut state = self.state();
        if state.generation != generation {
            return;
        }
        if state.domains.len() >= MAX_ENTRIES {
            state.domains.clear();
        }
        state.domains.insert(user, domains);
    }

    /// Forgets every key and the domains of `user` (their account, keys or domains changed).
    pub(crate) fn forget_user(&self, user: UserId) {
        let mut state = self.state();
        state.generation += 1;
        state.entries.retain(|_, (_, owner)| owner.id != user);
        state.domains.remove(&user);
    }

    /// Forgets everything and serves from now on (`true`) or not (`false`).
    pub(crate) fn arm(&self, serve: bool) {
        let mut state = self.state();
        state.generation += 1;
        state.entries.clear();
        state.domains.clear();
        self.armed.store(serve, Ordering::Release);
    }

    /// Whether the cache serves.
    pub(crate) fn is_armed(&self) -> bool {
        self.armed.load(Ordering::Acquire)
    }
}
