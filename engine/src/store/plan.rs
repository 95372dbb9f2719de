//! The decisions of a batch write that do not depend on the backend.

use crate::quota::{apportion, QuotaUsage};
use crate::store::{NewBatch, NewTask, StoreRefusal};
use crate::tasks::{NodeBitmap, NodeFailure};

/// The verdict of each task of `batch` (`None`: accepted) and the quota used after it.
///
/// `repeats[i]` says whether task `i` is a regex of this user still created or running (refused
/// as a repeat, not queued twice); what remains is apportioned to the quota left of the day.
pub(super) fn verdicts(
    batch: &NewBatch,
    repeats: &[bool],
    used_before: QuotaUsage,
) -> (Vec<Option<StoreRefusal>>, QuotaUsage) {
    let mut verdicts: Vec<Option<StoreRefusal>> = repeats
        .iter()
        .map(|repeat| repeat.then_some(StoreRefusal::RepeatRunning))
        .collect();
    let candidates: Vec<usize> = (0..batch.tasks.len())
        .filter(|i| verdicts[*i].is_none())
        .collect();
    let (fits, used_after) = apportion(
        candidates.iter().map(|i| batch.tasks[*i].kind),
        &batch.limits,
        used_before,
    );
    for (index, fits) in candidates.iter().zip(fits) {
        if !fits {
            verdicts[*index] = Some(StoreRefusal::OverQuota);
        }
    }
    (verdicts, used_after)
}

/// The confirmed-node bitmap of a finished task of `total` nodes: every node but the failed ones.
pub(super) fn confirmed_except(total: u32, failures: &[NodeFailure]) -> NodeBitmap {
    let mut bitmap = NodeBitmap::new(total as usize);
    for index in 0..total as usize {
        bitmap.set(index);
    }
    for failure in failures {
        bitmap.clear(failure.node_index as usize);
    }
    bitmap
}

/// The tasks of `batch` whose verdict is `None` (accepted), in order.
pub(super) fn accepted<'b>(
    batch: &'b NewBatch,
    verdicts: &[Option<StoreRefusal>],
) -> Vec<&'b NewTask> {
    batch
        .tasks
        .iter()
        .zip(verdicts)
        .filter(|(_, verdict)| verdict.is_none())
        .map(|(task, _)| task)
        .collect()
}
