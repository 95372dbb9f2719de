//! The fan-out: workers claim tasks, ask every node of their frozen node set, and write what each
//! node answered, fairly across users and without a database round trip per node.

pub mod health;
pub mod http1;
pub mod outcome;
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

/// An edge connection with nothing to do is closed after this long.
const EDGE_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Tuning of the fan-out; the defaults suit a few hundred edges per domain.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct FanoutConfig {
    /// Requests in flight across all nodes. A request in flight costs about a hundred bytes (it
    /// shares a pipelined connection), so that distant edges can have many in flight
    /// (16 384 / 30 ms ≈ 540 000 node purges/s) and 1 000 edges get a pipeline 16 deep each.
    pub max_in_flight: usize,
    /// Requests in flight to one node (written, or queued for one of its connections).
    pub per_node_in_flight: usize,
    /// Keep-alive connections to one node at most, each driven by one task. Each costs about
    /// 10 KB in Purger (its read buffer and queue).
    pub connections_per_node: usize,
    /// Requests one connection may have written and not yet answered (HTTP/1.1 pipelining;
    /// 1 = one at a time). A node that closes after its first answer or answers HTTP/1.0 gets
    /// one at a time whatever this says. `PURGER_FANOUT__PIPELINE_DEPTH`.
    pub pipeline_depth: usize,
    /// Timeout of one request, in milliseconds: from when it is written to when its whole answer
    /// has come. A request not answered in time fails as `timeout` with every request written
    /// after it on the same connection (the answers come in order).
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
            max_in_flight: 16_384,
            per_node_in_flight: 32,
            connections_per_node: 2,
            pipeline_depth: 16,
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
    /// The edge client's settings these describe.
    pub fn edge_settings(&self) -> http1::EdgeSettings {
        http1::EdgeSettings {
            connections_per_node: self.connections_per_node.max(1),
            pipeline_depth: self.pipeline_depth.max(1),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            idle_timeout: EDGE_IDLE_TIMEOUT,
        }
    }

    /// The retry policy these settings describe.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms.max(self.backoff_base_ms)),
        }
    }
}
