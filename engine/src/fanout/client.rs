//! The pooled HTTP client that talks to edge nodes.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use reqwest::Method;

use super::protocol::{classify_status, EdgeRequest, StatusVerdict};
use crate::fleet::NodeTarget;
use crate::tasks::FailureReason;

/// How one request to one node ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeOutcome {
    /// The node confirmed.
    Confirmed,
    /// The node served the object to a `GET` (a prefetch or the fetch after a purge), with
    /// its `Age` header in seconds when it sent one.
    Fetched {
        /// `Age`, when present and a number.
        age: Option<u64>,
    },
    /// The node failed; `retryable` says whether asking again may help.
    Failed {
        /// The `failed_status` key.
        reason: FailureReason,
        /// Timeouts, connection errors, 5xx.
        retryable: bool,
        /// What happened, for people.
        detail: String,
    },
}

/// One keep-alive HTTP/1.1 client for every node, with a timeout per request.
#[derive(Clone, Debug)]
pub struct EdgeClient {
    http: reqwest::Client,
}

impl EdgeClient {
    /// A client with these timeouts and up to `idle_per_node` pooled connections per node.
    pub fn new(request_timeout: Duration, connect_timeout: Duration, idle_per_node: usize) -> Self {
        let http = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(connect_timeout)
            .pool_max_idle_per_host(idle_per_node)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .http1_only()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("purger/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a plain HTTP client always builds");
        Self { http }
    }

    /// Sends `request` to `node` and classifies the answer.
    pub async fn send(&self, node: &NodeTarget, request: &PreparedRequest) -> NodeOutcome {
        let url = match node.ip {
            std::net::IpAddr::V4(ip) => format!("http://{ip}:{}{}", node.port, request.path),
            std::net::IpAddr::V6(ip) => format!("http://[{ip}]:{}{}", node.port, request.path),
        };
        let sent = self
            .http
            .request(request.method.clone(), url)
            .headers(request.headers.clone())
            .send()
            .await;
        match sent {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let age = response
                    .headers()
                    .get(reqwest::header::AGE)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.trim().parse::<u64>().ok());
                // Read the body so the connection goes back to the pool, chunk by chunk: a
                // prefetch reads a whole object (that is what makes the edge keep it), which is
                // not held in memory.
                let mut read = Ok(());
                loop {
                    match response.chunk().await {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(error) => {
                            read = Err(error);
                            break;
                        }
                    }
                }
                if let (Err(error), true) = (read, request.method == Method::GET) {
                    return classify_error(&error);
                }
                match classify_status(&node.protocol, request.method.as_str(), status) {
                    StatusVerdict::Success if request.method == Method::GET => {
                        NodeOutcome::Fetched { age }
                    }
                    StatusVerdict::Success => NodeOutcome::Confirmed,
                    StatusVerdict::Retry(reason) => failed(reason, true, format!("HTTP {status}")),
                    StatusVerdict::Fail(reason) => failed(reason, false, format!("HTTP {status}")),
                }
            }
            Err(error) => classify_error(&error),
        }
    }
}

/// An edge request in the HTTP client's own types, converted once per task and protocol and
/// shared by every node it goes to.
#[derive(Debug)]
pub struct PreparedRequest {
    method: Method,
    path: String,
    headers: HeaderMap,
}

impl PreparedRequest {
    /// Converts `request`; the error says which part HTTP cannot carry.
    pub fn new(request: &EdgeRequest) -> Result<Self, String> {
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("invalid method {:?}", request.method))?;
        let mut headers = HeaderMap::with_capacity(request.headers.len() + 1);
        let host =
            HeaderValue::from_str(&request.host).map_err(|_| "invalid Host header".to_owned())?;
        headers.insert(HOST, host);
        for (name, value) in &request.headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(name), Ok(value)) => {
                    headers.append(name, value);
                }
                _ => return Err(format!("invalid header {name}")),
            }
        }
        Ok(Self {
            method,
            path: request.path.clone(),
            headers,
        })
    }
}

fn failed(reason: FailureReason, retryable: bool, detail: String) -> NodeOutcome {
    NodeOutcome::Failed {
        reason,
        retryable,
        detail,
    }
}

/// Maps a transport error to its `failed_status` key.
fn classify_error(error: &reqwest::Error) -> NodeOutcome {
    let detail = error_chain(error);
    if error.is_timeout() {
        return failed(FailureReason::timeout(), true, detail);
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return failed(FailureReason::connect_refused(), true, detail)
                }
                std::io::ErrorKind::TimedOut => {
                    return failed(FailureReason::timeout(), true, detail)
                }
                _ => {}
            }
        }
        source = cause.source();
    }
    failed(FailureReason::connect_error(), true, detail)
}

fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
