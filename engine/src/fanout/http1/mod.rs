//! The HTTP/1.1 client that talks to edge nodes: per node a few keep-alive connections, each
//! driven by one task that writes queued requests in batches (pipelining up to a depth) and
//! reads the answers in order. Replies come back on one channel, tagged by the caller, so that
//! a request costs no task, future or channel of its own.

mod connection;
mod node;
mod request;
mod response;
#[cfg(test)]
mod tests;

pub use request::PreparedRequest;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use node::Node;

/// How the client talks to nodes.
#[derive(Clone, Copy, Debug)]
pub struct EdgeSettings {
    /// Connections to one node at most.
    pub connections_per_node: usize,
    /// Requests one connection may have written and not yet answered (1: no pipelining).
    pub pipeline_depth: usize,
    /// How long a request may wait for its whole answer once written.
    pub request_timeout: Duration,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// A connection with nothing to do is closed after this long.
    pub idle_timeout: Duration,
}

/// How a request ended on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The node answered.
    Answered {
        /// The status code.
        status: u16,
        /// `Age`, when present and a number.
        age: Option<u64>,
    },
    /// No answer.
    Failed {
        /// What kind of failure.
        error: TransportError,
        /// What happened, for people.
        detail: String,
    },
}

/// Why a request got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// Connecting or answering took too long.
    Timeout,
    /// Nothing listens.
    Refused,
    /// The connection failed or broke before an answer.
    Connection,
}

/// One request to send, with the caller's tag that comes back with its reply.
#[derive(Debug)]
pub struct Job<T> {
    /// What to send.
    pub request: Arc<PreparedRequest>,
    /// Handed back with the reply.
    pub tag: T,
    /// The request's span (a debug span: disabled, it costs nothing).
    pub span: tracing::Span,
}

/// Where replies go.
pub type Replies<T> = mpsc::UnboundedSender<(T, Reply)>;

/// The client: its nodes by address. Owned by one caller, which sends through `&mut self` and
/// then calls [`EdgeClient::flush`].
pub struct EdgeClient<T> {
    settings: Arc<EdgeSettings>,
    nodes: HashMap<SocketAddr, Arc<Node<T>>>,
    replies: Replies<T>,
    /// Nodes with requests queued since the last flush.
    queued: Vec<Arc<Node<T>>>,
}

impl<T: Send + 'static> EdgeClient<T> {
    /// A client that sends every reply, with its tag, to `replies`; its connection tasks end
    /// when the receiver is dropped.
    pub fn new(settings: EdgeSettings, replies: Replies<T>) -> Self {
        Self {
            settings: Arc::new(settings),
            nodes: HashMap::new(),
            replies,
            queued: Vec::new(),
        }
    }

    /// Queues `job` for the node at `addr`; it goes out at the next [`EdgeClient::flush`] at the
    /// latest, and its reply comes on the replies channel.
    pub fn send(&mut self, addr: SocketAddr, job: Job<T>) {
        let node = self
            .nodes
            .entry(addr)
            .or_insert_with(|| Arc::new(Node::new(addr)));
        let (start, first) = node.push(job, &self.settings);
        if first {
            self.queued.push(Arc::clone(node));
        }
        if start {
            tokio::spawn(connection::run(
                Arc::clone(node),
                Arc::clone(&self.settings),
                self.replies.clone(),
            ));
        }
    }

    /// Wakes a connection of each node that was sent requests since the last flush.
    pub fn flush(&mut self) {
        for node in self.queued.drain(..) {
            node.signal();
        }
    }

    /// Forgets nodes without connections (and so without queued requests).
    pub fn forget_idle(&mut self) {
        self.nodes.retain(|_, node| Arc::strong_count(node) > 1);
    }
}
