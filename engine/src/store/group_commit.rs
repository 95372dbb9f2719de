//! Group commit: concurrent batch writes gathered by one writer task and committed together in
//! one transaction, the way databases batch their log writes.
//!
//! A caller queues its batch and waits for its own verdict, which comes once the transaction
//! holding it has committed. While one group commits, the next batches queue; the writer takes
//! all of them at once, so a lone submission waits for nobody and a burst pays one commit (one
//! `fsync`, one lock) for many. When a group's transaction fails, its batches are written again
//! one by one, so that one failing batch does not fail the others — unless the database was
//! busy, locked or unreachable, which no batch caused: then every one of them is told so, and so
//! is every batch that queued while it waited.

use std::collections::HashSet;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::store::{BatchWrite, NewBatch, StoreError, StoreResult};
use crate::users::UserId;

/// Batches waiting for the writer before callers wait to queue theirs.
const QUEUE_DEPTH: usize = 4096;
/// Most batches in one group.
const MAX_GROUP_BATCHES: usize = 1000;
/// Most tasks in one group (a group is one transaction: it must stay short).
const MAX_GROUP_TASKS: usize = 20_000;

/// Writes a group of batches in one transaction of a backend.
#[async_trait]
pub(super) trait GroupWriter: Send + Sync + 'static {
    /// Decides and writes `batches` in one transaction; one [`BatchWrite`] per batch, in order.
    async fn write_group(&self, batches: &[NewBatch]) -> StoreResult<Vec<BatchWrite>>;
}

/// The queue of a backend's batch writer.
#[derive(Clone, Debug)]
pub(super) struct GroupCommit {
    queue: mpsc::Sender<Pending>,
}

/// A batch waiting for its group, and where its verdict goes.
#[derive(Debug)]
struct Pending {
    batch: NewBatch,
    reply: oneshot::Sender<StoreResult<BatchWrite>>,
}

impl GroupCommit {
    /// Starts the writer task of `writer` on the current runtime; it ends when every
    /// [`GroupCommit`] clone is dropped.
    pub(super) fn start(writer: impl GroupWriter) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(commit_loop(writer, waiting).instrument(tracing::info_span!("group_commit")));
        Self { queue }
    }

    /// Writes `batch` with the batches queued beside it; its verdict once committed.
    pub(super) async fn write(&self, batch: NewBatch) -> StoreResult<BatchWrite> {
        let (reply, verdict) = oneshot::channel();
        self.queue
            .send(Pending { batch, reply })
            .await
            .map_err(|_| StoreError::Task("the batch writer has stopped".to_owned()))?;
        verdict.await.map_err(|_| {
            StoreError::Task("the batch writer stopped before it answered".to_owned())
        })?
    }
}

/// Takes the queued batches group by group until the queue closes.
async fn commit_loop(writer: impl GroupWriter, mut waiting: mpsc::Receiver<Pending>) {
    let mut carried: Option<Pending> = None;
    loop {
        let first = match carried.take() {
            Some(pending) => pending,
            None => match waiting.recv().await {
                Some(pending) => pending,
                None => return,
            },
        };
        let mut group = Group::default();
        group.push(first);
        while !group.is_full() {
            match waiting.try_recv() {
                Ok(next) if group.collides(&next.batch) => {
                    carried = Some(next);
                    break;
                }
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        if let Some(unavailable) = group.commit(&writer).await {
            // What queued meanwhile would wait as long again for the same lock: tell it now.
            for pending in carried
                .take()
                .into_iter()
                .chain(std::iter::from_fn(|| waiting.try_recv().ok()))
            {
                let _ = pending
                    .reply
                    .send(Err(StoreError::Unavailable(unavailable.clone())));
            }
        }
    }
}

/// The batches of one transaction.
#[derive(Default)]
struct Group {
    batches: Vec<NewBatch>,
    replies: Vec<oneshot::Sender<StoreResult<BatchWrite>>>,
    /// Each user's idempotency keys and client task ids in the group.
    client_keys: HashSet<(UserId, bool, String)>,
    tasks: usize,
}

impl Group {
    fn push(&mut self, pending: Pending) {
        self.client_keys.extend(client_keys(&pending.batch));
        self.tasks += pending.batch.tasks.len();
        self.batches.push(pending.batch);
        self.replies.push(pending.reply);
    }

    fn is_full(&self) -> bool {
        self.batches.len() >= MAX_GROUP_BATCHES || self.tasks >= MAX_GROUP_TASKS
    }

    /// Whether `batch` repeats a client key of the group: it must see the earlier batch
    /// committed, so it waits for the next group.
    fn collides(&self, batch: &NewBatch) -> bool {
        client_keys(batch).any(|key| self.client_keys.contains(&key))
    }

    /// Commits the group and answers each caller; on failure, writes each batch alone. When the
    /// database was unavailable, what it said.
    async fn commit(self, writer: &impl GroupWriter) -> Option<String> {
        let size = self.batches.len();
        metrics::histogram!("purger_group_commit_batches").record(size as f64);
        let span = tracing::debug_span!("write_group", batches = size, tasks = self.tasks);
        match writer.write_group(&self.batches).instrument(span).await {
            Ok(writes) if writes.len() == size => {
                for (reply, write) in self.replies.into_iter().zip(writes) {
                    let _ = reply.send(Ok(write));
                }
                None
            }
            Ok(writes) => {
                let error = format!("{} verdicts for {size} batches", writes.len());
                for reply in self.replies {
                    let _ = reply.send(Err(StoreError::Corrupt(error.clone())));
                }
                None
            }
            // Busy, locked or unreachable: no batch is to blame, and asking again one by one
            // would only make every caller wait that much longer.
            Err(error) if error.is_unavailable() => {
                let error = error.to_string();
                for reply in self.replies {
                    let _ = reply.send(Err(StoreError::Unavailable(error.clone())));
                }
                Some(error)
            }
            Err(error) if size == 1 => {
                if let Some(reply) = self.replies.into_iter().next() {
                    let _ = reply.send(Err(error));
                }
                None
            }
            Err(error) => {
                tracing::warn!(%error, batches = size, "a group commit failed: writing its batches one by one");
                for (batch, reply) in self.batches.iter().zip(self.replies) {
                    let alone = writer.write_group(std::slice::from_ref(batch)).await;
                    let write = alone.and_then(|mut writes| {
                        writes
                            .pop()
                            .ok_or_else(|| StoreError::Corrupt("no verdict for a batch".to_owned()))
                    });
                    let _ = reply.send(write);
                }
                None
            }
        }
    }
}

/// A batch's client keys: its idempotency key (`true`) and client task id (`false`).
fn client_keys(batch: &NewBatch) -> impl Iterator<Item = (UserId, bool, String)> + '_ {
    let idempotency = batch
        .idempotency_key
        .iter()
        .map(|k| (batch.user_id, true, k.clone()));
    let task = batch
        .client_task_id
        .iter()
        .map(|k| (batch.user_id, false, k.clone()));
    idempotency.chain(task)
}
