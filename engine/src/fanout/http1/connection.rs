//! One connection to one node, driven by one task: it takes queued requests, writes as many as
//! the pipeline depth allows in one write, and reads the answers in order. When the connection
//! ends with requests unanswered, those go back to the node's queue (purges are idempotent)
//! and the answered ones are never asked again.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, Instant};

use super::node::Node;
use super::response::{parse_head, Body, Head, ResponseError};
use super::{EdgeSettings, Job, Replies, Reply, TransportError};

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 8 * 1024;

/// An answer's head longer than this is refused.
const MAX_HEAD: usize = 64 * 1024;

/// A deadline that never comes, for a timer with nothing to time.
const FAR: std::time::Duration = std::time::Duration::from_secs(86_400);

/// A request written and not answered yet.
struct Sent<T> {
    job: Job<T>,
    at: Instant,
}

/// An open connection and what it has read.
struct Link {
    stream: TcpStream,
    input: BytesMut,
    output: Vec<u8>,
    /// Answers read on this connection.
    answered: u64,
    /// The head and body state of the answer being read.
    reading: Option<(Head, Body)>,
}

/// How reading stopped.
enum Read {
    /// Answers or bytes came.
    Data,
    /// The node closed, or the connection broke.
    Ended(Option<io::Error>),
    /// The oldest request waited longer than the request timeout.
    TimedOut,
    /// New requests are queued and there is room for them, or the timer was early: look again.
    Work,
    /// The client is gone.
    Stop,
}

/// The task of one connection slot of `node`; it reconnects as needed and ends once it has been
/// idle for the idle timeout, or when the client is dropped.
pub(super) async fn run<T: Send + 'static>(
    node: Arc<Node<T>>,
    settings: Arc<EdgeSettings>,
    replies: Replies<T>,
) {
    let mut link: Option<Link> = None;
    let mut sent: VecDeque<Sent<T>> = VecDeque::new();
    let mut fresh: Vec<Job<T>> = Vec::new();
    // Follows the oldest request's deadline lazily: it may fire early (then it is set again),
    // never late, and it is not reset for every answer.
    let mut timer = std::pin::pin!(sleep_until(Instant::now() + FAR));
    loop {
        let depth = node.depth(&settings);
        let room = depth.saturating_sub(sent.len());
        // With answers still to come (they wake this task), wait for a fuller batch: one write
        // of many requests costs the kernel about what one of a few does.
        let least = if sent.is_empty() {
            1
        } else {
            room.min(depth.div_ceil(2))
        };
        node.take(room, least, &mut fresh);
        if fresh.is_empty() && sent.is_empty() {
            if idle(&node, &settings, &replies, &mut link).await {
                continue;
            }
            return;
        }
        if !fresh.is_empty() {
            if link.is_none() {
                match connect(&node, &settings).await {
                    Ok(stream) => link = Some(Link::new(stream)),
                    Err((error, detail)) => {
                        for job in fresh.drain(..) {
                            deliver(&replies, job, failed(error, detail.clone()));
                        }
                        continue;
                    }
                }
            }
            let Some(open) = link.as_mut() else {
                continue;
            };
            let now = Instant::now();
            open.output.clear();
            for job in fresh.drain(..) {
                open.output.extend_from_slice(job.request.bytes());
                sent.push_back(Sent { job, at: now });
            }
            let written = timeout(
                settings.request_timeout,
                open.stream.write_all(&open.output),
            );
            match written.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    end(&node, &replies, &mut link, &mut sent, Some(error));
                    continue;
                }
                Err(_) => {
                    time_out(&replies, &mut link, &mut sent, &settings);
                    continue;
                }
            }
        }
        let Some(open) = link.as_mut() else {
            continue;
        };
        let room = sent.len() < node.depth(&settings);
        let deadline = sent.front().map_or_else(
            || Instant::now() + FAR,
            |first| first.at + settings.request_timeout,
        );
        if timer.deadline() > deadline {
            timer.as_mut().reset(deadline);
        }
        open.input.reserve(READ_CHUNK);
        let event = tokio::select! {
            biased;
            read = open.stream.read_buf(&mut open.input) => match read {
                Ok(0) => Read::Ended(None),
                Ok(_) => Read::Data,
                Err(error) => Read::Ended(Some(error)),
            },
            _ = timer.as_mut() => if Instant::now() >= deadline {
                timer.as_mut().reset(Instant::now() + FAR);
                Read::TimedOut
            } else {
                timer.as_mut().reset(deadline);
                Read::Work
            },
            _ = node.work.notified(), if room => Read::Work,
            _ = replies.closed() => Read::Stop,
        };
        match event {
            Read::Data => match read_answers(&node, &replies, open, &mut sent) {
                Ok(false) => {}
                Ok(true) => end(&node, &replies, &mut link, &mut sent, None),
                Err(error) => {
                    let error = io::Error::new(io::ErrorKind::InvalidData, error);
                    end(&node, &replies, &mut link, &mut sent, Some(error));
                }
            },
            Read::Ended(error) => end(&node, &replies, &mut link, &mut sent, error),
            Read::TimedOut => time_out(&replies, &mut link, &mut sent, &settings),
            Read::Work => {}
            Read::Stop => {
                node.abandon();
                return;
            }
        }
    }
}

impl Link {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            input: BytesMut::with_capacity(READ_CHUNK),
            output: Vec::new(),
            answered: 0,
            reading: None,
        }
    }
}

/// Waits for work with nothing in flight; false when the task should end.
async fn idle<T>(
    node: &Node<T>,
    settings: &EdgeSettings,
    replies: &Replies<T>,
    link: &mut Option<Link>,
) -> bool {
    let until = Instant::now() + settings.idle_timeout;
    loop {
        let closed_by_node = tokio::select! {
            _ = node.work.notified() => return true,
            _ = sleep_until(until) => return !node.retire(),
            _ = replies.closed() => {
                node.abandon();
                return false;
            }
            _ = hang_up(link) => true,
        };
        if closed_by_node {
            // An idle connection the node closes (its keep-alive timeout) is dropped at once, so
            // that the next request does not go to a dead socket.
            *link = None;
        }
    }
}

/// Completes when an idle connection is closed or sends something (either way it is done);
/// never without a connection.
async fn hang_up(link: &mut Option<Link>) {
    match link {
        Some(open) => {
            open.input.reserve(READ_CHUNK);
            let _ = open.stream.read_buf(&mut open.input).await;
        }
        None => std::future::pending().await,
    }
}

async fn connect<T>(
    node: &Node<T>,
    settings: &EdgeSettings,
) -> Result<TcpStream, (TransportError, String)> {
    match timeout(settings.connect_timeout, TcpStream::connect(node.addr)).await {
        Ok(Ok(stream)) => {
            // Requests are written whole in one write: nothing to gain from Nagle.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(error)) => Err((kind_of(&error), format!("connecting: {error}"))),
        Err(_) => Err((
            TransportError::Timeout,
            format!(
                "connecting timed out after {} ms",
                settings.connect_timeout.as_millis()
            ),
        )),
    }
}

/// Reads every complete answer in the input, delivering each to its request in order; true
/// when the last one said the node closes the connection after it.
fn read_answers<T>(
    node: &Node<T>,
    replies: &Replies<T>,
    link: &mut Link,
    sent: &mut VecDeque<Sent<T>>,
) -> Result<bool, ResponseError> {
    loop {
        let Some(first) = sent.front() else {
            if link.input.is_empty() {
                return Ok(false);
            }
            return Err(ResponseError::Malformed("bytes nobody asked for"));
        };
        if link.reading.is_none() {
            match parse_head(&link.input, first.job.request.is_head())? {
                None if link.input.len() > MAX_HEAD => {
                    return Err(ResponseError::Malformed("head too long"))
                }
                None => return Ok(false),
                Some((head, length)) => {
                    link.input.advance(length);
                    if !head.is_interim() {
                        link.reading = Some((head, Body::new(head.framing)));
                    }
                    continue;
                }
            }
        }
        let Some((head, body)) = link.reading.as_mut() else {
            continue;
        };
        let used = body.consume(&link.input)?;
        link.input.advance(used);
        if !body.is_done() {
            return Ok(false);
        }
        let head = *head;
        link.reading = None;
        if let Some(done) = sent.pop_front() {
            answered(node, replies, link, done.job, head);
        }
        if head.closes {
            return Ok(true);
        }
    }
}

/// Delivers an answer and learns from it whether the node keeps pipelined connections.
fn answered<T>(node: &Node<T>, replies: &Replies<T>, link: &mut Link, job: Job<T>, head: Head) {
    link.answered += 1;
    if head.http10 || (head.closes && link.answered == 1) {
        node.fall_back();
    }
    let reply = Reply::Answered {
        status: head.status,
        age: head.age,
    };
    deliver(replies, job, reply);
}

/// The connection ended (closed by the node, broken, or unreadable). An answer whose head came
/// counts as answered (a fetch only when its body came whole); the requests after it go back to
/// the queue when the connection had answered before, and fail otherwise, so that a node that
/// accepts and closes at once is not asked forever.
fn end<T>(
    node: &Node<T>,
    replies: &Replies<T>,
    link: &mut Option<Link>,
    sent: &mut VecDeque<Sent<T>>,
    error: Option<io::Error>,
) {
    let Some(mut open) = link.take() else {
        return;
    };
    if let Some((head, mut body)) = open.reading.take() {
        if let Some(first) = sent.pop_front() {
            if body.ends_at_close() || !first.job.request.fetches() {
                answered(node, replies, &mut open, first.job, head);
            } else {
                let detail = "the connection closed in the middle of the body".to_owned();
                deliver(
                    replies,
                    first.job,
                    failed(TransportError::Connection, detail),
                );
            }
        }
    }
    if sent.is_empty() {
        return;
    }
    if open.answered > 0 {
        node.give_back(sent.drain(..).map(|s| s.job));
        return;
    }
    let (kind, detail) = match &error {
        Some(error) => (kind_of(error), format!("connection error: {error}")),
        None => (
            TransportError::Connection,
            "the node closed the connection before answering".to_owned(),
        ),
    };
    for unanswered in sent.drain(..) {
        deliver(replies, unanswered.job, failed(kind, detail.clone()));
    }
}

/// The oldest request got no answer in time: the connection is dropped (its answers can only
/// come in order) and every request on it fails as a timeout.
fn time_out<T>(
    replies: &Replies<T>,
    link: &mut Option<Link>,
    sent: &mut VecDeque<Sent<T>>,
    settings: &EdgeSettings,
) {
    *link = None;
    let detail = format!(
        "no answer within {} ms",
        settings.request_timeout.as_millis()
    );
    for unanswered in sent.drain(..) {
        deliver(
            replies,
            unanswered.job,
            failed(TransportError::Timeout, detail.clone()),
        );
    }
}

fn kind_of(error: &io::Error) -> TransportError {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => TransportError::Refused,
        io::ErrorKind::TimedOut => TransportError::Timeout,
        _ => TransportError::Connection,
    }
}

fn failed(error: TransportError, detail: String) -> Reply {
    Reply::Failed { error, detail }
}

fn deliver<T>(replies: &Replies<T>, job: Job<T>, reply: Reply) {
    job.span
        .in_scope(|| tracing::trace!(?reply, "edge request done"));
    // The receiver is gone only when the client is shutting down.
    let _ = replies.send((job.tag, reply));
}
