//! A simulated edge fleet on loopback: one process serving many edges that answer Purger's
//! presets (PURGE, BAN) with a chosen mix of latency, timeouts, refused connections and 5xx.
//! For demos, benchmarks and fault tests; real-edge tests use Varnish and nginx.
//!
//! A healthy edge models a distant one: each request is answered no earlier than the latency
//! after it arrived, pipelined requests each from their own arrival and in order per
//! connection, as the network (not a queue) would delay them.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

/// What the simulated fleet looks like.
#[derive(Clone, Debug, clap::Args)]
pub struct EdgeSimConfig {
    /// Number of edges.
    #[arg(long, default_value_t = 50)]
    pub nodes: usize,
    /// Address the edges listen on (each on its own port).
    #[arg(long, default_value = "127.0.0.1")]
    pub ip: IpAddr,
    /// First port; edges use consecutive ports from it (0: any free ports).
    #[arg(long, default_value_t = 0)]
    pub base_port: u16,
    /// Latency of a healthy edge's answer, in milliseconds.
    #[arg(long, default_value_t = 2)]
    pub latency_ms: u64,
    /// Each edge answers this much later than the one before it, in milliseconds (a spread of
    /// answer times, so that progress is visible).
    #[arg(long, default_value_t = 0)]
    pub latency_step_ms: u64,
    /// Edges that refuse connections.
    #[arg(long, default_value_t = 0)]
    pub refusing: usize,
    /// Edges that accept connections and never answer.
    #[arg(long, default_value_t = 0)]
    pub silent: usize,
    /// Edges that answer 503.
    #[arg(long, default_value_t = 0)]
    pub failing: usize,
}

impl Default for EdgeSimConfig {
    fn default() -> Self {
        Self {
            nodes: 50,
            ip: IpAddr::from([127, 0, 0, 1]),
            base_port: 0,
            latency_ms: 2,
            latency_step_ms: 0,
            refusing: 0,
            silent: 0,
            failing: 0,
        }
    }
}

/// How one simulated edge behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Answers 200 after the latency.
    Healthy,
    /// Nothing listens.
    Refusing,
    /// Accepts and never answers.
    Silent,
    /// Answers 503.
    Failing,
}

/// One running simulated edge.
#[derive(Clone, Debug, Serialize)]
pub struct SimNode {
    /// Where it listens.
    pub addr: SocketAddr,
    /// How it answers.
    pub behaviour: Behaviour,
}

/// A running simulated fleet; it stops when dropped.
pub struct EdgeSim {
    /// The edges.
    pub nodes: Vec<SimNode>,
    /// Purge requests answered so far.
    pub answered: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for EdgeSim {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl EdgeSim {
    /// The nodes as CSV lines for `purger nodes import`.
    pub fn csv(&self) -> String {
        self.nodes
            .iter()
            .map(|node| format!("{},{}\n", node.addr.ip(), node.addr.port()))
            .collect()
    }
}

/// Starts the fleet: the first edges refuse, then some are silent, then some fail, the rest are
/// healthy.
pub async fn start(config: &EdgeSimConfig) -> std::io::Result<EdgeSim> {
    let answered = Arc::new(AtomicU64::new(0));
    let mut nodes = Vec::with_capacity(config.nodes);
    let mut tasks = Vec::new();
    for index in 0..config.nodes {
        let behaviour = if index < config.refusing {
            Behaviour::Refusing
        } else if index < config.refusing + config.silent {
            Behaviour::Silent
        } else if index < config.refusing + config.silent + config.failing {
            Behaviour::Failing
        } else {
            Behaviour::Healthy
        };
        let port = if config.base_port == 0 {
            0
        } else {
            config.base_port.saturating_add(index as u16)
        };
        let listener = TcpListener::bind(SocketAddr::new(config.ip, port)).await?;
        let addr = listener.local_addr()?;
        match behaviour {
            // Closing the listener leaves a port where connections are refused.
            Behaviour::Refusing => drop(listener),
            Behaviour::Silent => tasks.push(tokio::spawn(async move {
                let mut held = Vec::new();
                while let Ok((stream, _)) = listener.accept().await {
                    held.push(stream);
                }
            })),
            Behaviour::Healthy | Behaviour::Failing => {
                let answer = Answer {
                    status: if behaviour == Behaviour::Healthy {
                        "200 OK"
                    } else {
                        "503 Service Unavailable"
                    },
                    latency: Duration::from_millis(
                        config.latency_ms + config.latency_step_ms * index as u64,
                    ),
                    answered: Arc::clone(&answered),
                };
                tasks.push(tokio::spawn(serve(listener, answer)));
            }
        }
        nodes.push(SimNode { addr, behaviour });
    }
    Ok(EdgeSim {
        nodes,
        answered,
        tasks,
    })
}

/// How a healthy or failing edge answers.
#[derive(Clone)]
struct Answer {
    status: &'static str,
    latency: Duration,
    answered: Arc<AtomicU64>,
}

async fn serve(listener: TcpListener, answer: Answer) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, answer.clone()));
            }
            Err(error) => {
                // Out of file descriptors, say: wait rather than spin.
                tracing::warn!(%error, "simulated edge cannot accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A request read: when its answer is due, and whether the connection ends after it.
struct Due {
    at: Instant,
    close: bool,
}

/// Reads requests as they come and hands each to the writer with its due time; the writer
/// answers them in order, each at its time, several at once when several are due.
async fn connection(stream: TcpStream, answer: Answer) {
    let (mut reader, mut writer) = stream.into_split();
    let (due, mut dues) = mpsc::unbounded_channel::<Due>();
    let latency = answer.latency;
    let read = async move {
        let mut input: Vec<u8> = Vec::with_capacity(4096);
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let Ok(read) = reader.read(&mut chunk).await else {
                return;
            };
            if read == 0 {
                return;
            }
            let arrived = Instant::now();
            input.extend_from_slice(&chunk[..read]);
            loop {
                match parse_request(&input) {
                    Parsed::Request { length, close } => {
                        input.drain(..length);
                        let at = arrived + latency;
                        if due.send(Due { at, close }).is_err() || close {
                            return;
                        }
                    }
                    Parsed::Partial => break,
                    Parsed::Invalid => return,
                }
            }
        }
    };
    let write = async move {
        let head = format!("HTTP/1.1 {}\r\ncontent-length: 0\r\n\r\n", answer.status);
        let mut output = Vec::new();
        while let Some(first) = dues.recv().await {
            sleep_until(first.at).await;
            let mut close = first.close;
            let mut count = 1;
            output.clear();
            output.extend_from_slice(head.as_bytes());
            // Answers already due go out in the same write.
            let now = Instant::now();
            while !close {
                match dues.try_recv() {
                    Ok(next) if next.at <= now => {
                        output.extend_from_slice(head.as_bytes());
                        close = next.close;
                        count += 1;
                    }
                    Ok(next) => {
                        if writer.write_all(&output).await.is_err() {
                            return;
                        }
                        answer.answered.fetch_add(count, Ordering::Relaxed);
                        output.clear();
                        count = 0;
                        sleep_until(next.at).await;
                        output.extend_from_slice(head.as_bytes());
                        close = next.close;
                        count += 1;
                    }
                    Err(_) => break,
                }
            }
            if writer.write_all(&output).await.is_err() {
                return;
            }
            answer.answered.fetch_add(count, Ordering::Relaxed);
            if close {
                let _ = writer.shutdown().await;
                return;
            }
        }
    };
    tokio::join!(read, write);
}

enum Parsed {
    /// A whole request of `length` bytes (head and body).
    Request {
        length: usize,
        close: bool,
    },
    Partial,
    Invalid,
}

fn parse_request(input: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let head = match request.parse(input) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Invalid,
    };
    let mut body = 0;
    let mut close = request.version == Some(0);
    for header in request.headers.iter() {
        let value = String::from_utf8_lossy(header.value);
        if header.name.eq_ignore_ascii_case("content-length") {
            body = value.trim().parse().unwrap_or(0);
        } else if header.name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            close = value.contains("close") || (close && !value.contains("keep-alive"));
        }
    }
    if input.len() < head + body {
        return Parsed::Partial;
    }
    Parsed::Request {
        length: head + body,
        close,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pipelined_requests_are_each_answered_a_latency_after_they_arrived_in_order() {
        let latency = Duration::from_millis(200);
        let fleet = start(&EdgeSimConfig {
            nodes: 1,
            latency_ms: 200,
            ..EdgeSimConfig::default()
        })
        .await
        .unwrap();
        let mut stream = TcpStream::connect(fleet.nodes[0].addr).await.unwrap();
        let request = |path: &str| format!("PURGE /{path} HTTP/1.1\r\nHost: a\r\n\r\n");
        let started = Instant::now();
        stream
            .write_all((request("1") + &request("2") + &request("3")).as_bytes())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let second_batch = Instant::now();
        stream
            .write_all((request("4") + &request("5")).as_bytes())
            .await
            .unwrap();
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        let mut received = Vec::new();
        let mut times = Vec::new();
        let mut chunk = [0u8; 1024];
        while received.len() < answer.len() * 5 {
            let read = stream.read(&mut chunk).await.unwrap();
            assert!(read > 0, "the edge closed");
            received.extend_from_slice(&chunk[..read]);
            times.push((received.len() / answer.len(), Instant::now()));
        }
        assert_eq!(received, answer.repeat(5));
        for (answers, at) in times {
            if answers >= 1 {
                assert!(at >= started + latency, "an answer came early");
            }
            if answers >= 4 {
                assert!(
                    at >= second_batch + latency,
                    "a later request was answered early"
                );
            }
        }
        // One at a time, the five would take five latencies: here they overlap.
        assert!(started.elapsed() < latency * 3, "{:?}", started.elapsed());
        assert_eq!(fleet.answered.load(Ordering::Relaxed), 5);
    }
}
