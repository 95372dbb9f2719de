//! The engine's settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::fanout::FanoutConfig;
use crate::time::Zone;
use crate::users::QuotaLimits;

/// Everything the engine can be told; the defaults run a single instance on SQLite.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// Holds the generated master key when none is configured.
    pub data_dir: PathBuf,
    /// Base64 of 32 bytes; encrypts API keys at rest. Generated into `data_dir` when unset.
    #[serde(skip_serializing)]
    pub master_key: Option<String>,
    /// The service's time zone: quota days and the seed APIs' times.
    pub time_zone: Zone,
    /// Quota limits of users without overrides.
    pub quota: QuotaLimits,
    /// Fan-out tuning.
    pub fanout: FanoutConfig,
    /// Callback delivery.
    pub callbacks: CallbackConfig,
    /// Prefetches: how hard they may press on the origin.
    pub prefetch: PrefetchConfig,
    /// Finished tasks are deleted this many days after they finish (0 keeps them forever).
    pub retention_days: u32,
    /// This instance's name in leases; host name and process id when unset.
    pub instance_name: Option<String>,
    /// How long a dashboard session lasts, in hours.
    pub session_hours: u32,
    /// Unrevoked API keys one user may hold.
    pub max_keys_per_user: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            master_key: None,
            time_zone: Zone::default(),
            quota: QuotaLimits::default(),
            fanout: FanoutConfig::default(),
            callbacks: CallbackConfig::default(),
            prefetch: PrefetchConfig::default(),
            retention_days: 30,
            instance_name: None,
            session_hours: 12,
            max_keys_per_user: 20,
        }
    }
}

/// How prefetches are sent.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct PrefetchConfig {
    /// Prefetch requests of one domain in flight at once, across every node: an edge that does
    /// not hold the object asks the origin, so N edges must not ask it N-wide at once.
    pub per_domain_in_flight: u32,
}

impl Default for PrefetchConfig {
    fn default() -> Self {
        Self {
            per_domain_in_flight: 8,
        }
    }
}

/// How task results are posted to clients.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct CallbackConfig {
    /// Networks (CIDR, such as `127.0.0.0/8`) that callbacks may reach although they are
    /// loopback, private, link-local or metadata addresses.
    pub allow_networks: Vec<String>,
    /// Timeout of one delivery, in milliseconds.
    pub timeout_ms: u64,
    /// Deliveries per task at most.
    pub max_attempts: u32,
    /// First retry backoff, in seconds; it doubles per attempt.
    pub backoff_secs: u64,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        Self {
            allow_networks: Vec::new(),
            timeout_ms: 5_000,
            max_attempts: 6,
            backoff_secs: 5,
        }
    }
}
