//! The fan-out scheduler: one task (actor) per instance that claims work, dispatches node
//! requests round-robin across users, retries with backoff, and batches progress writes. What
//! it reads from and writes to the store (claims, progress, leases) is in `store_io`.

mod store_io;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{broadcast, mpsc, watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};
use tracing::Instrument;

use super::http1::{EdgeClient, Job, Reply};
use super::node_slots::NodeSlots;
use super::outcome::NodeOutcome;
use super::run::{Recorded, RetryPolicy, Run};
use super::{FanoutConfig, ProgressEvent};
use crate::fleet::NodeTarget;
use crate::ids::TaskId;
use crate::store::{ClaimedTask, Store, StoreError, TaskProgress};
use crate::target::TargetKind;
use crate::users::UserId;

/// Everything the scheduler needs, shared with the engine.
#[derive(Clone)]
pub(crate) struct Scheduler {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Tuning.
    pub config: FanoutConfig,
    /// Prefetch requests of one domain in flight at most, across nodes.
    pub prefetch_per_domain: u32,
    /// This instance's lease owner name.
    pub owner: String,
    /// Notified when new work was accepted.
    pub wake: Arc<Notify>,
    /// Progress subscribers.
    pub events: broadcast::Sender<ProgressEvent>,
    /// Notified when a finished task has a callback to deliver.
    pub callbacks: Arc<Notify>,
    /// Recent outcomes per node.
    pub health: super::health::HealthBook,
}

type Claimed = Vec<(ClaimedTask, Arc<Vec<NodeTarget>>)>;
type WriteBatch = Vec<(u64, TaskProgress)>;
type WriteHandle = JoinHandle<(WriteBatch, Result<Vec<TaskId>, StoreError>)>;
type NodeSetCache = Arc<Mutex<HashMap<i64, Arc<Vec<NodeTarget>>>>>;

/// What the scheduler needs back with each node's reply: which task and node it was for.
#[derive(Debug)]
struct Ticket {
    key: u64,
    index: u32,
    slot: u32,
    /// The domain of a prefetch (counted in `State::prefetching`).
    prefetch_domain: Option<i64>,
}

/// Replies taken off the channel at a time.
const REPLY_BATCH: usize = 512;

#[derive(Default)]
struct State {
    runs: HashMap<u64, Run>,
    next_key: u64,
    /// Per user, runs with nodes waiting to be asked, oldest first.
    ready: HashMap<UserId, VecDeque<u64>>,
    /// Users with ready runs, in round-robin order.
    ring: VecDeque<UserId>,
    running_per_user: HashMap<UserId, usize>,
    in_flight: usize,
    /// Requests in flight per node.
    slots: NodeSlots,
    /// Each run's nodes as slots of `slots`.
    run_slots: HashMap<u64, Arc<[u32]>>,
    /// Prefetch requests in flight per domain.
    prefetching: HashMap<i64, u32>,
    dirty: HashSet<u64>,
    want_claim: bool,
    flush_not_before: Option<Instant>,
    /// When the last progress write started.
    last_write: Option<Instant>,
    /// Confirmations not yet added to the node request metric.
    confirmed_unreported: u64,
}

/// Progress of running tasks is written at most this often; a finished task is written at once.
/// Nodes confirmed since the last write may be asked again after a crash, so this also bounds
/// that repeat window.
const PROGRESS_WRITE_INTERVAL: Duration = Duration::from_millis(100);

/// Starts the scheduler; it runs until `shutdown` turns true, then writes what it knows and
/// gives its leases back.
pub(crate) fn spawn(scheduler: Scheduler, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let span = tracing::info_span!("fanout", owner = %scheduler.owner);
    tokio::spawn(scheduler.run(shutdown).instrument(span))
}

impl Scheduler {
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let policy = self.config.retry_policy();
        let node_sets: NodeSetCache = Arc::default();
        let mut st = State {
            want_claim: true,
            slots: NodeSlots::new(self.config.per_node_in_flight as u32),
            ..State::default()
        };
        let (reply_sender, mut replies) = mpsc::unbounded_channel();
        let mut client = EdgeClient::new(self.config.edge_settings(), reply_sender);
        let mut answered: Vec<(Ticket, Reply)> = Vec::with_capacity(REPLY_BATCH);
        let mut retries: BinaryHeap<Reverse<(Instant, u64, u32)>> = BinaryHeap::new();
        let mut writing: Option<WriteHandle> = None;
        let mut claiming: Option<JoinHandle<Result<Claimed, StoreError>>> = None;
        let mut poll =
            tokio::time::interval(Duration::from_millis(self.config.poll_interval_ms.max(10)));
        let mut housekeeping = tokio::time::interval(PROGRESS_WRITE_INTERVAL);
        let mut renew =
            tokio::time::interval(Duration::from_secs((self.config.lease_secs / 3).max(1)));
        renew.reset();
        tracing::info!(owner = %self.owner, "fan-out scheduler started");

        loop {
            self.dispatch(&mut st, &mut client, &mut retries, &policy);
            if writing.is_none() {
                writing = self.start_write(&mut st);
            }
            if claiming.is_none() {
                claiming = self.start_claim(&mut st, &node_sets);
            }
            let next_retry = retries.peek().map(|Reverse((at, _, _))| *at);
            tokio::select! {
                _ = shutdown.changed() => break,
                // Every reply that is already there is taken before dispatching again.
                _ = replies.recv_many(&mut answered, REPLY_BATCH) => {
                    let now = Utc::now();
                    for (ticket, reply) in answered.drain(..) {
                        // The node's request is still the one its reply answers: a node has one
                        // request of a task out at a time, and only its reply moves it on.
                        let outcome = st.runs.get(&ticket.key).and_then(|run| {
                            let node = &run.nodes[ticket.index as usize];
                            run.request_for(ticket.index).map(|request| NodeOutcome::of(&node.protocol, request, reply))
                        });
                        self.complete(&mut st, &mut retries, &policy, ticket, outcome, now);
                    }
                    let confirmed = std::mem::take(&mut st.confirmed_unreported);
                    metrics::counter!("purger_node_requests_total", "outcome" => "confirmed").increment(confirmed);
                }
                result = async { writing.as_mut().expect("guarded").await }, if writing.is_some() => {
                    writing = None;
                    match result {
                        Ok((batch, result)) => self.finish_write(&mut st, batch, result),
                        Err(error) => tracing::error!(%error, "progress writer panicked"),
                    }
                }
                result = async { claiming.as_mut().expect("guarded").await }, if claiming.is_some() => {
                    claiming = None;
                    match result {
                        Ok(Ok(claimed)) => self.add_runs(&mut st, claimed),
                        Ok(Err(error)) => tracing::warn!(%error, "claiming tasks failed"),
                        Err(error) => tracing::error!(%error, "claim panicked"),
                    }
                }
                _ = async { sleep_until(next_retry.expect("guarded")).await }, if next_retry.is_some() => {
                    let now = Instant::now();
                    while let Some(Reverse((at, key, index))) = retries.peek().copied() {
                        if at > now {
                            break;
                        }
                        retries.pop();
                        if let Some(run) = st.runs.get_mut(&key) {
                            let user = run.task.user_id;
                            run.retry_due(index);
                            mark_ready(&mut st, user, key, true);
                        }
                    }
                }
                _ = self.wake.notified() => st.want_claim = true,
                _ = poll.tick() => st.want_claim = true,
                _ = housekeeping.tick() => {
                    self.expire_overdue(&mut st);
                    client.forget_idle();
                }
                _ = renew.tick() => self.renew_leases(&st),
            }
        }

        // The connection tasks end when the replies channel closes.
        drop(replies);
        drop(client);
        if let Some(handle) = writing.take() {
            if let Ok((batch, result)) = handle.await {
                self.finish_write(&mut st, batch, result);
            }
        }
        if let Some(handle) = claiming.take() {
            if let Ok(Ok(claimed)) = handle.await {
                self.add_runs(&mut st, claimed);
            }
        }
        let final_batch: WriteBatch = st
            .runs
            .iter_mut()
            .filter(|(_, run)| run.dirty)
            .map(|(key, run)| (*key, run.take_progress()))
            .collect();
        if !final_batch.is_empty() {
            let progress: Vec<TaskProgress> = final_batch.iter().map(|(_, p)| p.clone()).collect();
            if let Err(error) = self.store.record_progress(&self.owner, &progress).await {
                tracing::error!(%error, "writing progress at shutdown failed");
            }
        }
        if let Err(error) = self.store.release_leases(&self.owner).await {
            tracing::warn!(%error, "releasing leases at shutdown failed");
        }
        tracing::info!(owner = %self.owner, unfinished = st.runs.len(), "fan-out scheduler stopped");
    }

    /// Sends requests while there is capacity, one user at a time in turn.
    fn dispatch(
        &self,
        st: &mut State,
        client: &mut EdgeClient<Ticket>,
        retries: &mut BinaryHeap<Reverse<(Instant, u64, u32)>>,
        policy: &RetryPolicy,
    ) {
        let mut unsendable = Vec::new();
        let mut idle_turns = 0;
        while st.in_flight < self.config.max_in_flight
            && st.slots.any_free()
            && idle_turns < st.ring.len()
        {
            let Some(user) = st.ring.pop_front() else {
                break;
            };
            let mut sent = false;
            if let Some(queue) = st.ready.get_mut(&user) {
                let mut position = 0;
                while position < queue.len().min(8) && !sent {
                    let key = queue[position];
                    let (Some(run), Some(run_slots)) =
                        (st.runs.get_mut(&key), st.run_slots.get(&key))
                    else {
                        queue.remove(position);
                        continue;
                    };
                    // Every fetch through an edge (a prefetch, the fetch after a verified or
                    // warming purge) may reach the origin: a few of one domain at a time.
                    let domain = run.task.domain_id;
                    let origin_busy = st.prefetching.get(&domain).copied().unwrap_or(0)
                        >= self.prefetch_per_domain;
                    if origin_busy && run.task.kind == TargetKind::Prefetch {
                        position += 1;
                        continue;
                    }
                    let slots = &st.slots;
                    let mut next = run.next_node(|index| slots.is_busy(run_slots[index as usize]));
                    let fetch = next.is_some_and(|index| run.fetches(index));
                    if let (Some(index), true, true) = (next, fetch, origin_busy) {
                        // This node's purge went through; its fetch waits for the origin.
                        run.put_back(index);
                        next = None;
                    }
                    let prefetch_domain = fetch.then_some(domain);
                    if let Some(index) = next {
                        let slot = run_slots[index as usize];
                        let ticket = Ticket {
                            key,
                            index,
                            slot,
                            prefetch_domain,
                        };
                        match run.request_for(index) {
                            Some(request) => {
                                // A debug span: at hundreds of thousands of requests a second
                                // an enabled span costs more than it tells, and a disabled one
                                // costs a check (its fields are not even evaluated).
                                let span = tracing::debug_span!("edge_request", task = %run.task.id, node = index);
                                let node = &run.nodes[index as usize];
                                let job = Job {
                                    request: Arc::clone(request),
                                    tag: ticket,
                                    span,
                                };
                                client.send(SocketAddr::new(node.ip, node.port), job);
                            }
                            None => unsendable.push(ticket),
                        }
                        st.slots.sent(slot);
                        st.in_flight += 1;
                        if let Some(domain) = prefetch_domain {
                            *st.prefetching.entry(domain).or_default() += 1;
                        }
                        sent = true;
                    }
                    if !run.has_pending() {
                        queue.remove(position);
                    } else {
                        position += 1;
                    }
                }
                if queue.is_empty() {
                    st.ready.remove(&user);
                } else {
                    st.ring.push_back(user);
                }
            }
            if sent {
                idle_turns = 0;
            } else {
                idle_turns += 1;
            }
        }
        client.flush();
        for ticket in unsendable {
            let outcome = NodeOutcome::Failed {
                reason: crate::tasks::FailureReason::unsupported(),
                retryable: false,
                detail: super::run::CANNOT_EXPRESS.into(),
            };
            self.complete(st, retries, policy, ticket, Some(outcome), Utc::now());
        }
    }

    /// Records a node's outcome; `None` when its task is no longer here.
    fn complete(
        &self,
        st: &mut State,
        retries: &mut BinaryHeap<Reverse<(Instant, u64, u32)>>,
        policy: &RetryPolicy,
        done: Ticket,
        outcome: Option<NodeOutcome>,
        now: chrono::DateTime<Utc>,
    ) {
        st.in_flight = st.in_flight.saturating_sub(1);
        st.slots.answered(done.slot);
        if let Some(domain) = done.prefetch_domain {
            if let Some(count) = st.prefetching.get_mut(&domain) {
                *count -= 1;
                if *count == 0 {
                    st.prefetching.remove(&domain);
                }
            }
        }
        let (Some(run), Some(outcome)) = (st.runs.get_mut(&done.key), outcome) else {
            forget_slots_when_idle(st);
            return;
        };
        let node = &run.nodes[done.index as usize];
        let (node_id, node_addr) = (node.node_id, SocketAddr::new(node.ip, node.port));
        let failure = match &outcome {
            NodeOutcome::Confirmed | NodeOutcome::Fetched { .. } => None,
            NodeOutcome::Failed { reason, .. } => Some(reason.as_str()),
        };
        self.health.record(node_id, failure, now);
        match &outcome {
            // Counted once per batch of replies.
            NodeOutcome::Confirmed | NodeOutcome::Fetched { .. } => st.confirmed_unreported += 1,
            NodeOutcome::Failed { reason, detail, .. } => {
                metrics::counter!("purger_node_requests_total", "outcome" => reason.as_str().to_owned()).increment(1);
                tracing::debug!(task = %run.task.id, node = %node_addr, reason = reason.as_str(), %detail, "edge request failed");
            }
        }
        match run.record(done.index, outcome, policy, now) {
            Recorded::RetryAt(at) => retries.push(Reverse((at, done.key, done.index))),
            Recorded::Again => {
                let user = run.task.user_id;
                mark_ready(st, user, done.key, true);
                return;
            }
            Recorded::Settled => {}
        }
        let Some(run) = st.runs.get(&done.key) else {
            return;
        };
        if run.dirty {
            st.dirty.insert(done.key);
        }
    }

    fn expire_overdue(&self, st: &mut State) {
        let now = Instant::now();
        for (key, run) in st.runs.iter_mut() {
            let overdue = run.deadline.is_some_and(|deadline| deadline <= now);
            if !run.is_finished() && overdue && run.has_pending() {
                tracing::warn!(task = %run.task.id, "task deadline passed");
                run.expire(Utc::now());
                st.dirty.insert(*key);
            }
        }
    }
}

/// Forgets the node slots once no task holds them and no request is out (a lease lost while
/// requests were in flight leaves them counted until they come back).
fn forget_slots_when_idle(st: &mut State) {
    if st.runs.is_empty() && st.in_flight == 0 {
        st.slots.clear();
    }
}

/// Puts a run into its user's ready queue (at the front for retries), and the user into the ring.
fn mark_ready(st: &mut State, user: UserId, key: u64, front: bool) {
    let queue = st.ready.entry(user).or_default();
    if queue.contains(&key) {
        return;
    }
    if queue.is_empty() {
        st.ring.push_back(user);
    }
    if front {
        queue.push_front(key);
    } else {
        queue.push_back(key);
    }
}
