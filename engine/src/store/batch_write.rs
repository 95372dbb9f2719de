//! The decisions of writing a group of batches in one transaction, which do not depend on the
//! backend.
//!
//! Concurrent submissions are committed together (see [`group_commit`](super::group_commit)):
//! each batch is decided in turn, as if alone and in that order (idempotency keys, client task
//! ids, repeated regexes, the quota left), against what the database holds and what the batches
//! before it in the group took; then the accepted ones are written with a few multi-row
//! statements, whatever the group's size. Each backend supplies those statements through
//! [`BatchTx`], run inside the group's transaction.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use crate::ids::BatchId;
use crate::quota::{apportion, QuotaUsage};
use crate::store::{
    AuditEntry, BatchWrite, NewBatch, NewTask, StoreError, StoreRefusal, StoreResult,
};
use crate::target::TargetKind;
use crate::tasks::TaskRecord;
use crate::users::UserId;

/// The statements of a group of batch writes, in one transaction of a backend.
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
    /// Inserts the batches themselves.
    async fn insert_batches(&mut self, batches: &[&NewBatch]) -> StoreResult<()>;
    /// Inserts accepted tasks, each with its batch, in order.
    async fn insert_tasks(&mut self, tasks: &[(&NewBatch, &NewTask)]) -> StoreResult<()>;
    /// Adds `by` to `user`'s use of `kind` on `day`.
    async fn add_usage(
        &mut self,
        user: UserId,
        day: &str,
        kind: TargetKind,
        by: u32,
    ) -> StoreResult<()>;
    /// Appends entries to the audit log, in order.
    async fn audit(&mut self, entries: &[&AuditEntry]) -> StoreResult<()>;
}

/// What the batches before one in its group took: the quota use and the regexes of each user.
#[derive(Default)]
struct GroupState {
    usage: HashMap<(UserId, String), QuotaUsage>,
    regexes: HashMap<UserId, HashSet<String>>,
}

/// Writes `batches` through `tx`, deciding each in turn: replays an idempotency key or a client
/// task id seen before, refuses repeated regexes and what exceeds the quota, and writes the rest
/// with its quota use and its audit entry. One [`BatchWrite`] per batch, in order.
///
/// A group must not hold two batches of one user with the same idempotency key or client task
/// id (the committer keeps them apart): the second would not see the first.
pub(super) async fn write_batches(
    tx: &mut impl BatchTx,
    batches: &[NewBatch],
) -> StoreResult<Vec<BatchWrite>> {
    let mut state = GroupState::default();
    let mut writes = Vec::with_capacity(batches.len());
    for batch in batches {
        writes.push(decide(tx, batch, &mut state).await?);
    }
    let written: Vec<(&NewBatch, &Vec<Option<StoreRefusal>>)> = batches
        .iter()
        .zip(&writes)
        .filter_map(|(batch, write)| match write {
            BatchWrite::Written { verdicts, .. } if verdicts.iter().any(Option::is_none) => {
                Some((batch, verdicts))
            }
            _ => None,
        })
        .collect();
    if written.is_empty() {
        return Ok(writes);
    }
    let tasks: Vec<(&NewBatch, &NewTask)> = written
        .iter()
        .flat_map(|(batch, verdicts)| {
            batch
                .tasks
                .iter()
                .zip(verdicts.iter())
                .filter(|(_, verdict)| verdict.is_none())
                .map(move |(task, _)| (*batch, task))
        })
        .collect();
    tx.insert_batches(&written.iter().map(|(batch, _)| *batch).collect::<Vec<_>>())
        .await?;
    tx.insert_tasks(&tasks).await?;
    add_usage(tx, &tasks).await?;
    tx.audit(
        &written
            .iter()
            .map(|(batch, _)| &batch.audit)
            .collect::<Vec<_>>(),
    )
    .await?;
    Ok(writes)
}

/// Decides `batch` after the batches before it in the group (`state`), reading what it needs.
async fn decide(
    tx: &mut impl BatchTx,
    batch: &NewBatch,
    state: &mut GroupState,
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
    let mut running = if regexes.is_empty() {
        HashSet::new()
    } else {
        tx.running(batch.user_id, &regexes).await?
    };
    if let Some(taken) = state.regexes.get(&batch.user_id) {
        running.extend(
            regexes
                .iter()
                .filter(|r| taken.contains(**r))
                .map(|r| (*r).to_owned()),
        );
    }
    let repeats: Vec<bool> = batch
        .tasks
        .iter()
        .map(|task| task.kind == TargetKind::Regex && running.contains(&task.target))
        .collect();
    let slot = (batch.user_id, batch.day.clone());
    let used_before = match state.usage.get(&slot) {
        Some(used) => *used,
        None => tx.usage(batch.user_id, &batch.day).await?,
    };
    let (verdicts, used_after) = verdicts(batch, &repeats, used_before);
    state.usage.insert(slot, used_after);
    let taken = state.regexes.entry(batch.user_id).or_default();
    for (task, verdict) in batch.tasks.iter().zip(&verdicts) {
        if task.kind == TargetKind::Regex && verdict.is_none() {
            taken.insert(task.target.clone());
        }
    }
    Ok(BatchWrite::Written {
        verdicts,
        used_before,
        used_after,
    })
}

/// Adds the quota use of the accepted `tasks`: one statement per user, day and kind.
async fn add_usage(tx: &mut impl BatchTx, tasks: &[(&NewBatch, &NewTask)]) -> StoreResult<()> {
    let mut added: Vec<((UserId, &str, TargetKind), u32)> = Vec::new();
    for (batch, task) in tasks {
        let slot = (batch.user_id, batch.day.as_str(), task.kind);
        match added.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, count)) => *count += 1,
            None => added.push((slot, 1)),
        }
    }
    for ((user, day, kind), by) in added {
        tx.add_usage(user, day, kind, by).await?;
    }
    Ok(())
}

/// Whether any of a group's writes accepted anything (and so put work in the queue).
pub(super) fn queued_work(writes: &[BatchWrite]) -> bool {
    writes.iter().any(
        |write| matches!(write, BatchWrite::Written { verdicts, .. } if verdicts.iter().any(Option::is_none)),
    )
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
