//! Token buckets per key (an API key, a dashboard session): each key may spend `per_second`
//! tokens a second, in bursts of `burst`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Rate limit settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitConfig {
    /// Requests per second per API key (0 turns the limit off).
    pub per_second: f64,
    /// Requests a key may make at once before the rate applies.
    pub burst: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_second: 50.0,
            burst: 100.0,
        }
    }
}

/// The most keys remembered; beyond it, keys idle for a minute are forgotten.
const MAX_KEYS: usize = 100_000;

/// The buckets of every key seen recently.
#[derive(Debug)]
pub struct RateLimiter<K = i64> {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// A limiter with these settings.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`; when none is left, how long until one is.
    pub fn check(&self, key: K) -> Result<(), Duration> {
        self.take(key, 1.0)
    }

    /// Takes `cost` tokens for `key` (at most a burst); when too few are left, how long until
    /// enough are.
    pub fn take(&self, key: K, cost: f64) -> Result<(), Duration> {
        let cost = cost.min(self.config.burst);
        if self.config.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > MAX_KEYS {
            buckets.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(60));
        }
        let (tokens, last) = buckets.entry(key).or_insert((self.config.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.config.per_second)
            .min(self.config.burst);
        *last = now;
        if *tokens >= cost {
            *tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (cost - *tokens) / self.config.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_applies_per_key() {
        let limiter: RateLimiter = RateLimiter::new(RateLimitConfig {
            per_second: 1.0,
            burst: 3.0,
        });
        for _ in 0..3 {
            assert!(limiter.check(1).is_ok());
        }
        let wait = limiter.check(1).expect_err("the fourth is refused");
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
        assert!(limiter.check(2).is_ok(), "another key has its own bucket");
        assert!(limiter.take(3, 2.0).is_ok());
        assert!(
            limiter.take(3, 2.0).is_err(),
            "a cost takes that many tokens"
        );
    }

    #[test]
    fn zero_turns_it_off() {
        let limiter: RateLimiter = RateLimiter::new(RateLimitConfig {
            per_second: 0.0,
            burst: 0.0,
        });
        assert!((0..1000).all(|_| limiter.check(1).is_ok()));
    }
}
