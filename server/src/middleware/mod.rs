//! Cross-cutting HTTP layers: request ids, access spans with secrets redacted, security headers,
//! request limits and the statuses of server function errors.

pub mod client_ip;
mod deadline;
mod limits;
pub mod page_user;
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

/// `path?query` with the values of secret parameters replaced by `[redacted]`. Names are
/// compared as the server reads them, percent-decoded (`api%5Fkey` is `api_key`); a pair whose
/// name does not decode to text is hidden too.
pub fn redact_uri(uri: &axum::http::Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.path().to_owned();
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            let decoded: Option<String> = url::form_urlencoded::parse(name.as_bytes())
                .next()
                .map(|(decoded, _)| decoded.into_owned());
            let secret = match &decoded {
                Some(decoded) => {
                    decoded.contains('\u{fffd}')
                        || SECRET_PARAMS
                            .iter()
                            .any(|s| decoded.eq_ignore_ascii_case(s))
                }
                None => false,
            };
            if secret && pair.contains('=') {
                format!("{name}=[redacted]")
            } else {
                pair.to_owned()
            }
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

/// Refuses state-changing requests from another site: with the session cookie their `Origin`
/// (or, without one, `Referer`) must be this server; to a server function (sign-in included:
/// login CSRF) without the cookie, an `Origin` or `Referer` that browsers send must be this
/// server too. Together with the `SameSite=Strict` cookie this stops cross-site request forgery.
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
    let has_session = app::api::context::has_session_cookie(headers);
    let browser_write_to_dashboard = server_fns::is_server_fn(request.uri().path())
        && (headers.contains_key("origin") || headers.contains_key("referer"));
    if writes && (has_session || browser_write_to_dashboard) {
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
pub fn apply<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    trusted_proxies: std::sync::Arc<client_ip::TrustedProxies>,
    request_timeout: std::time::Duration,
) -> axum::Router<S> {
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
        .layer(axum::middleware::from_fn_with_state(
            trusted_proxies,
            client_ip::client_ip,
        ))
        // Headers to the start of the answer, reading the body included; a slow client cannot
        // hold a worker longer. (The header read has its own deadline, in `serve`.)
        .layer(axum::middleware::from_fn_with_state(
            request_timeout,
            deadline::request_deadline,
        ))
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

    #[test]
    fn percent_encoded_secret_names_are_redacted_too() {
        let uri: axum::http::Uri = "/api/q?uri=x&api%5Fkey=SECRET&%61pi_key=S2&API%5fKEY=S3&t=%FF"
            .parse()
            .unwrap();
        let logged = redact_uri(&uri);
        assert_eq!(
            logged,
            "/api/q?uri=x&api%5Fkey=[redacted]&%61pi_key=[redacted]&API%5fKEY=[redacted]&t=%FF"
        );
    }
}
