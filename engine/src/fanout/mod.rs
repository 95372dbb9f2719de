//! The fan-out: workers claim tasks, ask every node of their frozen node set, and write what each
//! node answered, fairly across users and without a database round trip per node.

pub mod client;
pub mod health;
pub mod protocol;

mod follow_up;
mod node_slots;
mod run;
mod scheduler;
mod template;

pub use crate::tasks::ProgressEvent;
pub use run::RetryPolicy;
pub(crate) use scheduler::{spawn, Scheduler};

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Tuning of the fan-out; the defaults suit a few hundred edges per domain.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct FanoutConfig {
    /// Requests in flight across all nodes.
    pub max_in_flight: usize,
    /// Requests in flight to one node.
    pub per_node_in_flight: usize,
    /// Connections kept open to one node between requests; more requests in flight to one node
    /// open more connections, closed after use beyond this number. Each costs about 40 KB in
    /// Purger (the HTTP client's buffers and channels). Measured on 1 000 simulated edges
    /// (docs/benchmarks.md): 1 saves ~35 MB and costs ~20 % of the bulk rate in reconnections;
    /// 2 (the default) is as fast as 8, which keeps ~8 MB more.
    pub idle_connections_per_node: usize,
    /// Timeout of one request, in milliseconds.
    pub request_timeout_ms: u64,
    /// Timeout of connecting to a node, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Requests per node at most (first try included).
    pub max_attempts: u32,
    /// First retry backoff, in milliseconds.
    pub backoff_base_ms: u64,
    /// Longest retry backoff, in milliseconds.
    pub backoff_max_ms: u64,
    /// A task ends at the latest this long after it starts, in seconds.
    pub task_deadline_secs: u64,
    /// How long a claimed task stays leased without renewal, in seconds.
    pub lease_secs: u64,
    /// Tasks this instance works on at once.
    pub max_running_tasks: usize,
    /// Tasks of one user this instance works on at once.
    pub max_running_per_user: usize,
    /// How often to look for work when nobody wakes the workers, in milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 512,
            per_node_in_flight: 8,
            idle_connections_per_node: 2,
            request_timeout_ms: 2_000,
            connect_timeout_ms: 1_000,
            max_attempts: 3,
            backoff_base_ms: 100,
            backoff_max_ms: 2_000,
            task_deadline_secs: 120,
            lease_secs: 30,
            max_running_tasks: 1_024,
            max_running_per_user: 256,
            poll_interval_ms: 1_000,
        }
    }
}

impl FanoutConfig {
    /// The retry policy these settings describe.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms.max(self.backoff_base_ms)),
        }
    }
}
