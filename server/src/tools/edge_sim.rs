//! A simulated edge fleet on loopback: one process serving many edges that answer Purger's
//! presets (PURGE, BAN) with a chosen mix of latency, timeouts, refused connections and 5xx.
//! For demos, benchmarks and fault tests; real-edge tests use Varnish and nginx.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Router;
use serde::Serialize;
use tokio::net::TcpListener;

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
                let status = if behaviour == Behaviour::Healthy {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                let latency = config.latency_ms + config.latency_step_ms * index as u64;
                let state = (
                    Arc::clone(&answered),
                    Duration::from_millis(latency),
                    status,
                );
                let app = Router::new().fallback(answer).with_state(state);
                tasks.push(tokio::spawn(async move {
                    if let Err(error) = axum::serve(listener, app).await {
                        tracing::warn!(%error, "simulated edge stopped");
                    }
                }));
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

async fn answer(
    State((answered, latency, status)): State<(Arc<AtomicU64>, Duration, StatusCode)>,
) -> StatusCode {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    answered.fetch_add(1, Ordering::Relaxed);
    status
}
