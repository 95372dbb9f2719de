//! The decisions of a requeue, which do not depend on the backend.

use crate::tasks::{FailureReason, NodeBitmap, NodeFailure, TaskRecord, TaskStatus};

/// What requeueing a failed task changes.
pub(super) struct Requeue {
    /// The nodes asked again (every failed one but those that cannot express the target).
    pub retried: Vec<u32>,
    /// The failed count once they are retried.
    pub failed: i64,
    /// The confirmed-node bitmap: every node but the failed ones.
    pub confirmed: NodeBitmap,
}

/// What requeueing `task` with its `failures` changes; `None` when it is not failed or has
/// nothing to ask again.
pub(super) fn requeue(task: &TaskRecord, failures: &[NodeFailure]) -> Option<Requeue> {
    if task.status != TaskStatus::Failed {
        return None;
    }
    let unsupported = FailureReason::unsupported();
    let retried: Vec<u32> = failures
        .iter()
        .filter(|f| f.reason != unsupported)
        .map(|f| f.node_index)
        .collect();
    if retried.is_empty() {
        return None;
    }
    Some(Requeue {
        failed: i64::from(task.failed) - retried.len() as i64,
        retried,
        // Only the failed nodes are asked again: the others confirmed and are never asked twice.
        confirmed: confirmed_except(task.total, failures),
    })
}

/// The confirmed-node bitmap of a finished task of `total` nodes: every node but the failed ones.
fn confirmed_except(total: u32, failures: &[NodeFailure]) -> NodeBitmap {
    let mut bitmap = NodeBitmap::new(total as usize);
    for index in 0..total as usize {
        bitmap.set(index);
    }
    for failure in failures {
        bitmap.clear(failure.node_index as usize);
    }
    bitmap
}
