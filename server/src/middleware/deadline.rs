//! The time a request has from its headers to the start of its answer (its body read included),
//! so that a slow client cannot hold a worker: 408 after it. A long poll (`wait=N` on a batch of
//! v1) gets its wait on top.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::routes::v1::purges::MAX_WAIT_SECS;

/// Paths whose `wait` query parameter makes a request a long poll.
const LONG_POLL_PATHS: [&str; 2] = ["/api/v1/purges/", "/api/v1/prefetches/"];

/// Answers 408 when the request's answer has not started within `limit` (plus its long poll).
pub async fn request_deadline(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let limit = limit + long_poll(&request);
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// The wait a long poll asks for (capped; the handler refuses more), zero for other requests.
fn long_poll(request: &Request) -> Duration {
    let uri = request.uri();
    if !LONG_POLL_PATHS
        .iter()
        .any(|path| uri.path().starts_with(path))
    {
        return Duration::ZERO;
    }
    let secs = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("wait="))
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_secs(secs.min(MAX_WAIT_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(uri: &str) -> Duration {
        long_poll(
            &Request::builder()
                .uri(uri)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
    }

    #[test]
    fn only_batch_reads_with_a_wait_get_longer() {
        assert_eq!(poll("/api/v1/purges/abc?wait=45"), Duration::from_secs(45));
        assert_eq!(
            poll("/api/v1/prefetches/abc?x=1&wait=999"),
            Duration::from_secs(60)
        );
        assert_eq!(poll("/api/v1/tasks?wait=45"), Duration::ZERO);
        assert_eq!(poll("/api/v1/purges/abc?wait=soon"), Duration::ZERO);
        assert_eq!(poll("/login?wait=45"), Duration::ZERO);
    }
}
