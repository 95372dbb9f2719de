//! One edge node's side of the client: the requests waiting for one of its connections, how
//! many connections it has, and whether it takes pipelined requests.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;

use super::{EdgeSettings, Job};

/// The queue and connections of one node, shared by its connection tasks.
pub(super) struct Node<T> {
    /// Where the node listens.
    pub addr: SocketAddr,
    state: Mutex<State<T>>,
    /// Signalled when requests are queued.
    pub work: Notify,
    /// Requests were queued since the last signal (see [`Node::signal`]).
    unsignalled: AtomicBool,
}

struct State<T> {
    queue: VecDeque<Job<T>>,
    connections: usize,
    /// The node closed after its first answer or answered HTTP/1.0: one request at a time.
    one_at_a_time: bool,
}

impl<T> Node<T> {
    /// A node with no connection yet.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                connections: 0,
                one_at_a_time: false,
            }),
            work: Notify::new(),
            unsignalled: AtomicBool::new(false),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves the queue consistent (every change is one call).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `job` without waking a connection (see [`Node::signal`]). The first of the pair
    /// returned says the caller must start a connection task: the node has none, or more than
    /// one request waits and it may have another (requests are spread over connections before
    /// they are pipelined: an edge works through one connection's requests one at a time). The
    /// second says this is the first request since the last signal.
    pub fn push(&self, job: Job<T>, settings: &EdgeSettings) -> (bool, bool) {
        let mut state = self.state();
        state.queue.push_back(job);
        let start = state.connections == 0
            || (state.connections < settings.connections_per_node && state.queue.len() > 1);
        if start {
            state.connections += 1;
        }
        drop(state);
        (start, !self.unsignalled.swap(true, Ordering::AcqRel))
    }

    /// Wakes a connection for the requests queued since the last signal: one wake for a whole
    /// dispatch round, not one per request.
    pub fn signal(&self) {
        self.unsignalled.store(false, Ordering::Release);
        self.work.notify_one();
    }

    /// Moves up to `room` queued requests into `into`, this connection's share of them, when at
    /// least `least` are queued; when some are left, wakes another connection for them.
    pub fn take(&self, room: usize, least: usize, into: &mut Vec<Job<T>>) {
        if room == 0 {
            return;
        }
        let mut state = self.state();
        if state.queue.len() < least {
            return;
        }
        let share = state.queue.len().div_ceil(state.connections.max(1));
        let take = room.min(share);
        into.extend(state.queue.drain(..take));
        let left = !state.queue.is_empty() && take > 0;
        drop(state);
        if left {
            self.work.notify_one();
        }
    }

    /// Puts requests a connection could not finish back at the head of the queue, in order.
    pub fn give_back(&self, jobs: impl DoubleEndedIterator<Item = Job<T>>) {
        let mut state = self.state();
        for job in jobs.rev() {
            state.queue.push_front(job);
        }
        drop(state);
        self.work.notify_one();
    }

    /// Requests one connection may have written and not yet answered.
    pub fn depth(&self, settings: &EdgeSettings) -> usize {
        depth_of(&self.state(), settings)
    }

    /// The node does not take pipelined requests: from now on, one at a time.
    pub fn fall_back(&self) {
        let mut state = self.state();
        if !state.one_at_a_time {
            tracing::debug!(node = %self.addr, "edge does not keep pipelined connections; one request at a time");
            state.one_at_a_time = true;
        }
    }

    /// A connection task wants to end: allowed (and counted) only when nothing is queued.
    pub fn retire(&self) -> bool {
        let mut state = self.state();
        if state.queue.is_empty() {
            state.connections -= 1;
            true
        } else {
            false
        }
    }

    /// A connection task ends whatever is queued (the client is gone).
    pub fn abandon(&self) {
        let mut state = self.state();
        state.connections = state.connections.saturating_sub(1);
    }
}

fn depth_of<T>(state: &State<T>, settings: &EdgeSettings) -> usize {
    if state.one_at_a_time {
        1
    } else {
        settings.pipeline_depth.max(1)
    }
}
