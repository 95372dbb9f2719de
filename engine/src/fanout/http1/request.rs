//! An edge request as the bytes that go on the wire, built once per task and protocol and shared
//! by every node (and every connection) it is sent to.

use bytes::Bytes;

use crate::fanout::protocol::{EdgeRequest, PREFETCH_METHOD};

/// The `User-Agent` of every edge request.
const USER_AGENT: &str = concat!("purger/", env!("CARGO_PKG_VERSION"));

/// An [`EdgeRequest`] serialised as an HTTP/1.1 request head (no body), with what reading its
/// answer needs to know.
#[derive(Debug)]
pub struct PreparedRequest {
    bytes: Bytes,
    method: Box<str>,
}

impl PreparedRequest {
    /// Serialises `request`; the error says which part HTTP cannot carry.
    pub fn new(request: &EdgeRequest) -> Result<Self, String> {
        let method = http::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("invalid method {:?}", request.method))?;
        let path = request
            .path
            .parse::<http::uri::PathAndQuery>()
            .map_err(|_| format!("invalid path {:?}", request.path))?;
        let host = http::HeaderValue::from_str(&request.host)
            .map_err(|_| "invalid Host header".to_owned())?;
        let mut head = Vec::with_capacity(64 + request.path.len() + request.host.len());
        head.extend_from_slice(method.as_str().as_bytes());
        head.push(b' ');
        head.extend_from_slice(path.as_str().as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        head.extend_from_slice(host.as_bytes());
        head.extend_from_slice(b"\r\nUser-Agent: ");
        head.extend_from_slice(USER_AGENT.as_bytes());
        head.extend_from_slice(b"\r\n");
        for (name, value) in &request.headers {
            match (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                (Ok(name), Ok(value)) => {
                    head.extend_from_slice(name.as_str().as_bytes());
                    head.extend_from_slice(b": ");
                    head.extend_from_slice(value.as_bytes());
                    head.extend_from_slice(b"\r\n");
                }
                _ => return Err(format!("invalid header {name}")),
            }
        }
        head.extend_from_slice(b"\r\n");
        Ok(Self {
            bytes: Bytes::from(head),
            method: method.as_str().into(),
        })
    }

    /// The request's bytes on the wire.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The HTTP method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Whether this is a `GET` (a prefetch or the fetch after a purge): its answer's body is
    /// read whole, and a broken body fails it.
    pub fn fetches(&self) -> bool {
        &*self.method == PREFETCH_METHOD
    }

    /// Whether the answer has no body whatever its headers say (`HEAD`).
    pub fn is_head(&self) -> bool {
        &*self.method == "HEAD"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(method: &str, path: &str, headers: &[(&str, &str)]) -> EdgeRequest {
        EdgeRequest {
            method: method.into(),
            path: path.into(),
            host: "www.a.com".into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_request_is_one_http11_head_with_host_agent_and_headers() {
        let request =
            PreparedRequest::new(&edge("BAN", "/x?y=1", &[("X-Ban-Regex", "^/a")])).unwrap();
        let text = std::str::from_utf8(request.bytes()).unwrap();
        assert_eq!(
            text,
            format!(
                "BAN /x?y=1 HTTP/1.1\r\nHost: www.a.com\r\nUser-Agent: {USER_AGENT}\r\nx-ban-regex: ^/a\r\n\r\n"
            )
        );
        assert!(!request.fetches());
        assert!(PreparedRequest::new(&edge("GET", "/", &[]))
            .unwrap()
            .fetches());
    }

    #[test]
    fn what_http_cannot_carry_is_refused() {
        assert!(PreparedRequest::new(&edge("PUR GE", "/", &[])).is_err());
        assert!(PreparedRequest::new(&edge("PURGE", "/a b", &[])).is_err());
        assert!(PreparedRequest::new(&edge("PURGE", "/a\r\nX: y", &[])).is_err());
        assert!(PreparedRequest::new(&edge("PURGE", "/", &[("X", "a\r\nb")])).is_err());
        assert!(PreparedRequest::new(&edge("PURGE", "/", &[("X Y", "a")])).is_err());
    }
}
