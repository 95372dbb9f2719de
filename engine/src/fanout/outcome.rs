//! What one request to one node came to, in the terms of a task: confirmed, fetched, or failed
//! with its `failed_status` key and whether asking again may help.

use super::http1::{PreparedRequest, Reply, TransportError};
use super::protocol::{classify_status, StatusVerdict};
use crate::fleet::Protocol;
use crate::tasks::FailureReason;

/// How one request to one node ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeOutcome {
    /// The node confirmed.
    Confirmed,
    /// The node served the object to a `GET` (a prefetch or the fetch after a purge), with
    /// its `Age` header in seconds when it sent one.
    Fetched {
        /// `Age`, when present and a number.
        age: Option<u64>,
    },
    /// The node failed; `retryable` says whether asking again may help.
    Failed {
        /// The `failed_status` key.
        reason: FailureReason,
        /// Timeouts, connection errors, 5xx.
        retryable: bool,
        /// What happened, for people.
        detail: String,
    },
}

impl NodeOutcome {
    /// Classifies a node's `reply` to `request` by its protocol preset's success codes.
    pub fn of(protocol: &Protocol, request: &PreparedRequest, reply: Reply) -> Self {
        let (status, age) = match reply {
            Reply::Answered { status, age } => (status, age),
            Reply::Failed { error, detail } => {
                let reason = match error {
                    TransportError::Timeout => FailureReason::timeout(),
                    TransportError::Refused => FailureReason::connect_refused(),
                    TransportError::Connection => FailureReason::connect_error(),
                };
                return failed(reason, true, detail);
            }
        };
        match classify_status(protocol, request.method(), status) {
            StatusVerdict::Success if request.fetches() => Self::Fetched { age },
            StatusVerdict::Success => Self::Confirmed,
            StatusVerdict::Retry(reason) => failed(reason, true, format!("HTTP {status}")),
            StatusVerdict::Fail(reason) => failed(reason, false, format!("HTTP {status}")),
        }
    }
}

fn failed(reason: FailureReason, retryable: bool, detail: String) -> NodeOutcome {
    NodeOutcome::Failed {
        reason,
        retryable,
        detail,
    }
}
