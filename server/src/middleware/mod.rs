//! Cross-cutting HTTP layers: request ids, access spans with secrets redacted, security headers,
//! request limits and the statuses of server function errors.

mod limits;
mod server_fns;

use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};

/// The request id header set on every request and response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Query parameters whose values never reach the logs.
const SECRET_PARAMS: [&str; 3] = ["api_key", "password", "token"];

/// `path?query` with the values of secret parameters replaced by `[redacted]`.
pub fn redact_uri(uri: &axum::http::Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.path().to_owned();
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMS.iter().any(|s| name.eq_ignore_ascii_case(s)) => {
                format!("{name}=[redacted]")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{}?{}", uri.path(), redacted.join("&"))
}

/// Opens one span per request with its id, method and redacted URI.
#[derive(Clone, Copy, Debug)]
pub struct RedactedSpan;

impl<B> MakeSpan<B> for RedactedSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let request_id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "request",
            id = %request_id,
            method = %request.method(),
            uri = %redact_uri(request.uri()),
        )
    }
}

/// Refuses state-changing requests that carry the session cookie but come from another site:
/// their `Origin` (or, without one, `Referer`) must be this server. Together with the
/// `SameSite=Strict` cookie this stops cross-site request forgery on server functions.
pub async fn same_origin_writes(
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    use axum::response::IntoResponse;

    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let headers = request.headers();
    let has_session = app::api::context::session_token_from(headers).is_some();
    if writes && has_session {
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let source = headers
            .get("origin")
            .or_else(|| headers.get("referer"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let origin_host = source
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("");
        if host.is_empty() || origin_host != host {
            tracing::warn!(%host, origin = %source, "cross-site write refused");
            return (
                axum::http::StatusCode::FORBIDDEN,
                "cross-site request refused",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Adds the layers to `router`, outermost last.
pub fn apply<S: Clone + Send + Sync + 'static>(router: axum::Router<S>) -> axum::Router<S> {
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        // Pages send their own policy with a script nonce (app/src/shell.rs); every other
        // response (JSON, CSV, static files, events) may load nothing and not be framed.
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
        ))
        .layer(axum::middleware::from_fn(server_fns::statuses))
        .layer(axum::middleware::from_fn(same_origin_writes))
        .layer(axum::middleware::from_fn(limits::header_size))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(RedactedSpan)
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_redacted_from_logged_uris() {
        let uri: axum::http::Uri = "/api/purge?uri=http://a.com/x&api_key=SECRET&taskId=1"
            .parse()
            .unwrap();
        let logged = redact_uri(&uri);
        assert_eq!(
            logged,
            "/api/purge?uri=http://a.com/x&api_key=[redacted]&taskId=1"
        );
        assert!(!logged.contains("SECRET"));
        let uri: axum::http::Uri = "/healthz".parse().unwrap();
        assert_eq!(redact_uri(&uri), "/healthz");
    }
}
