//! The decisions of a batch write and of a requeue, which do not depend on the backend.
//!
//! A batch write is one flow for both stores: each backend supplies its statements through
//! [`BatchTx`], run inside the write's transaction.

use std::collections::HashSet;

use async_trait::async_trait;

use crate::ids::BatchId;
use crate::quota::{apportion, QuotaUsage};
use crate::store::{
    AuditEntry, BatchWrite, NewBatch, NewTask, StoreError, StoreRefusal, StoreResult,
};
use crate::target::TargetKind;
use crate::tasks::{FailureReason, NodeBitmap, NodeFailure, TaskRecord, TaskStatus};
use crate::users::UserId;

/// The statements of a batch write, in one transaction of a backend.
#[async_trait]
pub(super) trait BatchTx: Send {
    /// The id of the user's batch written before under the idempotency key `key`.
    async fn earlier_batch(&mut self, batch: &NewBatch, key: &str) -> StoreResult<Option<String>>;
    /// The user's task with the client task id `id`.
    async fn client_task(&mut self, batch: &NewBatch, id: &str) -> StoreResult<Option<TaskRecord>>;
    /// Which of `regexes` the user has created or running.
    async fn running(&mut self, user: UserId, regexes: &[&str]) -> StoreResult<HashSet<String>>;
    /// The user's quota use on `day`.
    async fn usage(&mut self, user: UserId, day: &str) -> StoreResult<QuotaUsage>;
    /// Inserts the batch itself.
    async fn insert_batch(&mut self, batch: &NewBatch) -> StoreResult<()>;
    /// Inserts the accepted `tasks` of `batch`, in order.
    async fn insert_tasks(&mut self, batch: &NewBatch, tasks: &[&NewTask]) -> StoreResult<()>;
    /// Adds `by` to the batch user's use of `kind` on the batch's day.
    async fn add_usage(&mut self, batch: &NewBatch, kind: TargetKind, by: u32) -> StoreResult<()>;
    /// Appends to the audit log.
    async fn audit(&mut self, entry: &AuditEntry) -> StoreResult<()>;
}

/// Writes `batch` through `tx`: replays an idempotency key or a client task id seen before,
/// refuses repeated regexes and what exceeds the quota, and writes the rest with its quota use
/// and its audit entry.
pub(super) async fn write_batch(
    tx: &mut impl BatchTx,
    batch: &NewBatch,
) -> StoreResult<BatchWrite> {
    if let Some(key) = &batch.idempotency_key {
        if let Some(id) = tx.earlier_batch(batch, key).await? {
            let batch_id = BatchId::parse(&id)
                .ok_or_else(|| StoreError::Corrupt(format!("batch id {id:?}")))?;
            return Ok(BatchWrite::Replayed { batch_id });
        }
    }
    if let Some(client_task_id) = &batch.client_task_id {
        if let Some(task) = tx.client_task(batch, client_task_id).await? {
            return Ok(BatchWrite::ClientTaskExists {
                task: Box::new(task),
            });
        }
    }
    let regexes: Vec<&str> = batch
        .tasks
        .iter()
        .filter(|task| task.kind == TargetKind::Regex)
        .map(|task| task.target.as_str())
        .collect();
    let running = if regexes.is_empty() {
        HashSet::new()
    } else {
        tx.running(batch.user_id, &regexes).await?
    };
    let repeats: Vec<bool> = batch
        .tasks
        .iter()
        .map(|task| task.kind == TargetKind::Regex && running.contains(&task.target))
        .collect();
    let used_before = tx.usage(batch.user_id, &batch.day).await?;
    let (verdicts, used_after) = verdicts(batch, &repeats, used_before);
    if verdicts.iter().all(Option::is_some) {
        return Ok(BatchWrite::Written {
            verdicts,
            used_before,
            used_after: used_before,
        });
    }
    tx.insert_batch(batch).await?;
    tx.insert_tasks(batch, &accepted(batch, &verdicts)).await?;
    for kind in TargetKind::ALL {
        let added = used_after.get(kind) - used_before.get(kind);
        if added > 0 {
            tx.add_usage(batch, kind, added).await?;
        }
    }
    tx.audit(&batch.audit).await?;
    Ok(BatchWrite::Written {
        verdicts,
        used_before,
        used_after,
    })
}

/// Whether a batch write accepted anything (and so put work in the queue).
pub(super) fn queued_work(write: &BatchWrite) -> bool {
    matches!(write, BatchWrite::Written { verdicts, .. } if verdicts.iter().any(Option::is_none))
}

/// The verdict of each task of `batch` (`None`: accepted) and the quota used after it.
///
/// `repeats[i]` says whether task `i` is a regex of this user still created or running (refused
/// as a repeat, not queued twice); what remains is apportioned to the quota left of the day.
fn verdicts(
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

/// The tasks of `batch` whose verdict is `None` (accepted), in order.
fn accepted<'b>(batch: &'b NewBatch, verdicts: &[Option<StoreRefusal>]) -> Vec<&'b NewTask> {
    batch
        .tasks
        .iter()
        .zip(verdicts)
        .filter(|(_, verdict)| verdict.is_none())
        .map(|(task, _)| task)
        .collect()
}

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
