//! Simulated edges with chosen behaviour, and addresses that refuse or never answer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;

use super::free_port;

/// How a simulated edge answers.
#[derive(Clone, Copy, Debug)]
pub struct EdgeBehaviour {
    pub status: u16,
    pub delay: Duration,
}

/// Every request a simulated edge got: (method, path and query, Host).
pub type RequestLog = Arc<Mutex<Vec<(String, String, String)>>>;

/// A simulated edge that records every request it gets.
pub struct SimEdge {
    pub addr: SocketAddr,
    pub requests: RequestLog,
}

impl SimEdge {
    pub fn count(&self) -> usize {
        self.requests.lock().expect("lock").len()
    }
    /// Requests per path.
    pub fn per_path(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (_, path, _) in self.requests.lock().expect("lock").iter() {
            *counts.entry(path.clone()).or_default() += 1;
        }
        counts
    }
}

/// A simulated edge on a fresh loopback port.
pub async fn start_sim_edge(behaviour: EdgeBehaviour) -> SimEdge {
    start_sim_edge_on(SocketAddr::from(([127, 0, 0, 1], 0)), behaviour).await
}

/// A simulated edge on a chosen address (for a node that comes back).
pub async fn start_sim_edge_on(addr: SocketAddr, behaviour: EdgeBehaviour) -> SimEdge {
    let requests: RequestLog = Arc::default();
    let sink = Arc::clone(&requests);
    let app = axum::Router::new().fallback(move |request: Request| {
        let sink = Arc::clone(&sink);
        async move {
            tokio::time::sleep(behaviour.delay).await;
            let host = request
                .headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            sink.lock()
                .expect("lock")
                .push((request.method().to_string(), path, host));
            StatusCode::from_u16(behaviour.status).unwrap_or(StatusCode::OK)
        }
    });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind edge");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    SimEdge { addr, requests }
}

/// An address where nothing listens: connections are refused.
pub fn refusing_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A listener that accepts connections and never answers: requests time out.
pub async fn silent_addr() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}
