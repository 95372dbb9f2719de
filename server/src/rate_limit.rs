//! Per-key token buckets: each API key may make `rate` requests a second, in bursts of `burst`.

use std::collections::HashMap;
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

/// The buckets of every key seen recently.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter with these settings.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`; when none is left, how long until one is.
    pub fn check(&self, key: i64) -> Result<(), Duration> {
        if self.config.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 100_000 {
            buckets.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(60));
        }
        let (tokens, last) = buckets.entry(key).or_insert((self.config.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.config.per_second)
            .min(self.config.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - *tokens) / self.config.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_applies_per_key() {
        let limiter = RateLimiter::new(RateLimitConfig {
            per_second: 1.0,
            burst: 3.0,
        });
        for _ in 0..3 {
            assert!(limiter.check(1).is_ok());
        }
        let wait = limiter.check(1).expect_err("the fourth is refused");
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
        assert!(limiter.check(2).is_ok(), "another key has its own bucket");
    }

    #[test]
    fn zero_turns_it_off() {
        let limiter = RateLimiter::new(RateLimitConfig {
            per_second: 0.0,
            burst: 0.0,
        });
        assert!((0..1000).all(|_| limiter.check(1).is_ok()));
    }
}
