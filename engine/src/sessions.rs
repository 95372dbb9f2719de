//! Dashboard sign-in: throttling of password guesses, and session tokens.
//!
//! Guesses are counted per (client address, user name) and per client address, in memory of a
//! bounded size whatever is sent: keys are 64-bit keyed hashes, never the names themselves, and
//! each map holds at most [`MAX_ENTRIES`] entries.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Failed sign-ins from one address for one user name before that pair is locked for
/// [`LOCKOUT`].
pub const MAX_FAILURES: u32 = 5;
/// How long a locked (address, user name) pair stays locked.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Failed sign-ins one address may make at once, whatever the names.
pub const ADDRESS_BURST: u32 = 30;
/// After its burst, an address may fail once per this long.
pub const ADDRESS_REFILL: Duration = Duration::from_secs(30);
/// The most entries of each map.
pub const MAX_ENTRIES: usize = 50_000;

/// A new random session token (32 bytes, base64url), bound to the password it was opened with:
/// `<random>.<stamp>` where the stamp is [`password_stamp`].
pub fn new_token(stamp: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{}.{stamp}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stamp a token carries: 16 hex digits of SHA-256 over the password hash. A new password
/// (its hash has a new salt) gives a new stamp, so that sessions opened with the old one end.
pub fn password_stamp(password_hash: &str) -> String {
    let digest = Sha256::digest([b"purger-session\0", password_hash.as_bytes()].concat());
    hex::encode(&digest[..8])
}

/// The stamp of a session token, `None` for a token without one.
pub fn token_stamp(token: &str) -> Option<&str> {
    token.split_once('.').map(|(_, stamp)| stamp)
}

/// Why a sign-in attempt is not even checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttled {
    /// This address failed [`MAX_FAILURES`] times for this name.
    Pair,
    /// This address failed too often overall.
    Address,
}

/// Counts sign-in attempts; see the module documentation.
#[derive(Debug)]
pub struct LoginThrottle {
    keys: RandomState,
    epoch: Instant,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Per (address, name): attempts counted, and when the last one began (seconds since epoch).
    pairs: HashMap<u64, (u32, u32)>,
    /// Per address: failures left (×1), and when that was computed.
    addresses: HashMap<u64, (u32, u32)>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            keys: RandomState::new(),
            epoch: Instant::now(),
            state: Mutex::default(),
        }
    }
}

/// An attempt counted by [`LoginThrottle::begin`]; say how it ended with [`Attempt::failed`] or
/// [`Attempt::succeeded`]. Dropped without either (an error, a cancelled request), it is not
/// counted.
#[must_use]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    pair: u64,
    address: u64,
    settled: bool,
}

impl Attempt<'_> {
    /// The password was wrong (or the user unknown): the attempt stays counted.
    pub fn failed(mut self) {
        self.settled = true;
    }

    /// The password was right: the pair's count starts again and the address gets its token back.
    pub fn succeeded(mut self) {
        self.settled = true;
        self.throttle.forget_pair(self.pair, self.address, true);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.throttle.forget_pair(self.pair, self.address, false);
        }
    }
}

impl LoginThrottle {
    fn now(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// IPv4 addresses count alone, IPv6 ones by their /64 (what one host is usually given).
    fn address_key(&self, client: IpAddr) -> u64 {
        match client.to_canonical() {
            IpAddr::V4(v4) => self.keys.hash_one((4u8, v4.octets())),
            IpAddr::V6(v6) => self.keys.hash_one((6u8, &v6.octets()[..8])),
        }
    }

    /// Counts an attempt of `client` for `username` before its password is checked, in one step
    /// with the check of the limits, so that concurrent guesses cannot pass together.
    pub fn begin(&self, client: IpAddr, username: &str) -> Result<Attempt<'_>, Throttled> {
        let address = self.address_key(client);
        let pair = self.keys.hash_one((address, username));
        let now = self.now();
        let lockout = LOCKOUT.as_secs() as u32;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((count, last)) = state.pairs.get(&pair) {
            if *count >= MAX_FAILURES && now.saturating_sub(*last) < lockout {
                return Err(Throttled::Pair);
            }
        }
        let left = address_tokens(state.addresses.get(&address), now);
        if left == 0 {
            return Err(Throttled::Address);
        }
        make_room(&mut state.addresses, now, |&(left, at)| {
            address_tokens(Some(&(left, at)), now) < ADDRESS_BURST
        });
        state.addresses.insert(address, (left - 1, now));
        make_room(&mut state.pairs, now, |&(_, last)| {
            now.saturating_sub(last) < lockout
        });
        let entry = state.pairs.entry(pair).or_insert((0, now));
        if now.saturating_sub(entry.1) >= lockout {
            *entry = (0, now);
        }
        entry.0 += 1;
        entry.1 = now;
        Ok(Attempt {
            throttle: self,
            pair,
            address,
            settled: false,
        })
    }

    /// After a success the pair starts again; an attempt that did not end in a verdict is
    /// uncounted.
    fn forget_pair(&self, pair: u64, address: u64, success: bool) {
        let now = self.now();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if success {
            state.pairs.remove(&pair);
        } else if let Some(entry) = state.pairs.get_mut(&pair) {
            entry.0 = entry.0.saturating_sub(1);
        }
        if let Some(entry) = state.addresses.get_mut(&address) {
            let left = address_tokens(Some(entry), now);
            *entry = ((left + 1).min(ADDRESS_BURST), now);
        }
    }

    /// How many entries are remembered (pairs, addresses).
    pub fn len(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (state.pairs.len(), state.addresses.len())
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

/// Failures an address has left now, given its entry.
fn address_tokens(entry: Option<&(u32, u32)>, now: u32) -> u32 {
    let Some(&(left, at)) = entry else {
        return ADDRESS_BURST;
    };
    let refilled = now.saturating_sub(at) / ADDRESS_REFILL.as_secs() as u32;
    left.saturating_add(refilled).min(ADDRESS_BURST)
}

/// Before an insertion into a full map: drops what no longer matters (`live` false), and if that
/// is not enough, the oldest tenth.
fn make_room(map: &mut HashMap<u64, (u32, u32)>, now: u32, live: impl Fn(&(u32, u32)) -> bool) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    map.retain(|_, entry| live(entry));
    if map.len() < MAX_ENTRIES {
        return;
    }
    let mut by_age: Vec<(u32, u64)> = map
        .iter()
        .map(|(key, (_, at))| (now.saturating_sub(*at), *key))
        .collect();
    by_age.sort_unstable_by(|a, b| b.cmp(a));
    for (_, key) in by_age.into_iter().take(MAX_ENTRIES / 10) {
        map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_pair_locks_after_repeated_failures_and_a_success_resets_it() {
        let throttle = LoginThrottle::default();
        let attacker = ip("192.0.2.1");
        for _ in 0..MAX_FAILURES {
            throttle.begin(attacker, "alice").expect("allowed").failed();
        }
        assert_eq!(
            throttle.begin(attacker, "alice").err(),
            Some(Throttled::Pair)
        );
        assert!(throttle.begin(attacker, "bob").is_ok(), "other names");
        let owner = throttle.begin(ip("198.51.100.7"), "alice");
        assert!(owner.is_ok(), "the owner elsewhere is not locked out");
        owner.unwrap().succeeded();
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.begin(attacker, "alice").unwrap().failed();
        }
        throttle.begin(attacker, "alice").unwrap().succeeded();
        assert!(throttle.begin(attacker, "alice").is_ok(), "reset");
    }

    #[test]
    fn concurrent_attempts_are_counted_before_they_are_checked() {
        let throttle = LoginThrottle::default();
        let attacker = ip("192.0.2.1");
        let in_flight: Vec<_> = (0..16)
            .filter_map(|_| throttle.begin(attacker, "alice").ok())
            .collect();
        assert_eq!(in_flight.len(), MAX_FAILURES as usize);
        // An attempt that never reached a verdict is given back.
        drop(in_flight);
        assert!(throttle.begin(attacker, "alice").is_ok());
    }

    #[test]
    fn an_address_is_slowed_whatever_names_it_tries() {
        let throttle = LoginThrottle::default();
        let attacker = ip("2001:db8:1:2::1");
        for n in 0..ADDRESS_BURST {
            throttle.begin(attacker, &format!("u{n}")).unwrap().failed();
        }
        let neighbour = ip("2001:db8:1:2::ffff");
        assert_eq!(
            throttle.begin(neighbour, "fresh").err(),
            Some(Throttled::Address),
            "the same /64 is the same address"
        );
        assert!(throttle.begin(ip("2001:db8:1:3::1"), "fresh").is_ok());
    }

    #[test]
    fn memory_stays_bounded_whatever_is_sent() {
        let throttle = LoginThrottle::default();
        let long = "x".repeat(1_000);
        for n in 0..(MAX_ENTRIES as u32 + 5_000) {
            let client = IpAddr::from((n + 1).to_be_bytes());
            throttle
                .begin(client, &format!("{long}{n}"))
                .unwrap()
                .failed();
        }
        let (pairs, addresses) = throttle.len();
        assert!(pairs <= MAX_ENTRIES && addresses <= MAX_ENTRIES);
        assert!(pairs > MAX_ENTRIES / 2, "{pairs}");
    }

    #[test]
    fn tokens_are_long_random_and_carry_the_password_stamp() {
        let stamp = password_stamp("$argon2id$v=19$...");
        assert_eq!(stamp.len(), 16);
        assert_ne!(stamp, password_stamp("$argon2id$v=19$other"));
        let token = new_token(&stamp);
        assert_eq!(token.len(), 43 + 1 + 16);
        assert_eq!(token_stamp(&token), Some(stamp.as_str()));
        assert_ne!(token, new_token(&stamp));
        assert_eq!(token_stamp("legacy"), None);
    }
}
