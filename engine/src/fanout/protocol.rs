//! What request each protocol preset sends for a target, and what its answers mean.

use super::template;
use crate::fleet::Protocol;
use crate::target::Target;
use crate::tasks::FailureReason;

/// The header Varnish's VCL reads the ban pattern from.
pub const BAN_HEADER: &str = "X-Ban-Regex";

/// One purge request for one node, before the address is filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeRequest {
    /// HTTP method (`PURGE`, `BAN`, …).
    pub method: String,
    /// Request path and query.
    pub path: String,
    /// The `Host` header: the purged URL's host.
    pub host: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

/// Builds the request `protocol` uses for `target`, or `None` when the protocol cannot express it.
pub fn build_request(target: &Target, protocol: &Protocol) -> Option<EdgeRequest> {
    let host = target.host().to_owned();
    let plain = |method: &str, path: String| EdgeRequest {
        method: method.to_owned(),
        path,
        host: host.clone(),
        headers: Vec::new(),
    };
    let ban = |pattern: String| EdgeRequest {
        method: "BAN".to_owned(),
        path: "/".to_owned(),
        host: host.clone(),
        headers: vec![(BAN_HEADER.to_owned(), pattern)],
    };
    match (protocol, target) {
        (Protocol::Varnish, Target::Url(url)) => {
            Some(plain("PURGE", url.path_and_query().to_owned()))
        }
        (Protocol::Varnish, Target::Prefix(prefix)) => Some(ban(prefix.edge_pattern())),
        (Protocol::Varnish, Target::Regex(regex)) => Some(ban(regex.edge_pattern())),
        (Protocol::Nginx { .. } | Protocol::Squid | Protocol::Ats, Target::Url(url)) => {
            Some(plain("PURGE", url.path_and_query().to_owned()))
        }
        (
            Protocol::Nginx {
                prefix_wildcard: true,
            },
            Target::Prefix(prefix),
        ) => Some(plain("PURGE", format!("{}*", prefix.path()))),
        (Protocol::Nginx { .. } | Protocol::Squid | Protocol::Ats, _) => None,
        (Protocol::Custom(template), target) => template::custom_request(template, target, &host),
    }
}

/// What an HTTP status from a node means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusVerdict {
    /// The node purged (or did not have) the object.
    Success,
    /// Worth asking again (5xx, 429).
    Retry(FailureReason),
    /// Final (other 4xx and the rest).
    Fail(FailureReason),
}

/// Classifies a node's answer to a `method` request by the protocol's success codes.
///
/// A 404 to a purge means the node holds nothing to purge (many Varnish configurations answer
/// `404 Not in cache`, as ngx_cache_purge, Squid and ATS do): success. A 404 to a `BAN` is not:
/// a ban is never "not cached", so it says the edge does not know the method or the route.
pub fn classify_status(protocol: &Protocol, method: &str, status: u16) -> StatusVerdict {
    let not_cached_is_success = match protocol {
        Protocol::Varnish => method != "BAN",
        Protocol::Nginx { .. } | Protocol::Squid | Protocol::Ats => true,
        Protocol::Custom(template) => template.success_statuses.contains(&404),
    };
    let custom_success =
        matches!(protocol, Protocol::Custom(t) if t.success_statuses.contains(&status));
    if (200..300).contains(&status) || (status == 404 && not_cached_is_success) || custom_success {
        StatusVerdict::Success
    } else if status >= 500 || status == 429 {
        StatusVerdict::Retry(FailureReason::status(status))
    } else {
        StatusVerdict::Fail(FailureReason::status(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::TargetKind;

    fn target(kind: TargetKind, text: &str) -> Target {
        Target::parse(kind, text).unwrap()
    }

    #[test]
    fn varnish_purges_urls_and_bans_patterns() {
        let request = build_request(
            &target(TargetKind::Url, "http://www.a.com/x.png?v=1"),
            &Protocol::Varnish,
        )
        .unwrap();
        assert_eq!(
            (
                request.method.as_str(),
                request.path.as_str(),
                request.host.as_str()
            ),
            ("PURGE", "/x.png?v=1", "www.a.com")
        );
        let request = build_request(
            &target(TargetKind::Regex, "http://www.a.com/test/.*\\.txt"),
            &Protocol::Varnish,
        )
        .unwrap();
        assert_eq!(request.method, "BAN");
        assert_eq!(
            request.headers,
            vec![(BAN_HEADER.to_owned(), "^(?:/test/.*\\.txt)".to_owned())]
        );
        let request = build_request(
            &target(TargetKind::Prefix, "http://www.a.com/img.v2/"),
            &Protocol::Varnish,
        )
        .unwrap();
        assert_eq!(request.headers[0].1, "^/img\\.v2/");
    }

    #[test]
    fn nginx_cannot_do_regexes_and_prefixes_only_with_wildcards() {
        let regex = target(TargetKind::Regex, "http://www.a.com/.*");
        let prefix = target(TargetKind::Prefix, "http://www.a.com/img/");
        assert_eq!(
            build_request(
                &regex,
                &Protocol::Nginx {
                    prefix_wildcard: true
                }
            ),
            None
        );
        assert_eq!(
            build_request(
                &prefix,
                &Protocol::Nginx {
                    prefix_wildcard: false
                }
            ),
            None
        );
        let request = build_request(
            &prefix,
            &Protocol::Nginx {
                prefix_wildcard: true,
            },
        )
        .unwrap();
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("PURGE", "/img/*")
        );
        assert_eq!(build_request(&prefix, &Protocol::Squid), None);
        assert!(build_request(
            &target(TargetKind::Url, "http://www.a.com/a"),
            &Protocol::Ats
        )
        .is_some());
    }

    #[test]
    fn statuses_are_classified_per_preset() {
        let nginx = Protocol::Nginx {
            prefix_wildcard: false,
        };
        assert_eq!(
            classify_status(&nginx, "PURGE", 404),
            StatusVerdict::Success
        );
        assert_eq!(
            classify_status(&Protocol::Varnish, "BAN", 404),
            StatusVerdict::Fail(FailureReason::status(404))
        );
        assert_eq!(
            classify_status(&Protocol::Varnish, "BAN", 200),
            StatusVerdict::Success
        );
        assert_eq!(
            classify_status(&Protocol::Varnish, "PURGE", 503),
            StatusVerdict::Retry(FailureReason::status(503))
        );
        assert_eq!(
            classify_status(&Protocol::Squid, "PURGE", 403),
            StatusVerdict::Fail(FailureReason::status(403))
        );
        assert_eq!(
            classify_status(&Protocol::Ats, "PURGE", 429),
            StatusVerdict::Retry(FailureReason::status(429))
        );
    }

    #[test]
    fn a_varnish_404_to_purge_is_not_cached_but_to_ban_a_failure() {
        assert_eq!(
            classify_status(&Protocol::Varnish, "PURGE", 404),
            StatusVerdict::Success
        );
        assert_eq!(
            classify_status(&Protocol::Varnish, "BAN", 404),
            StatusVerdict::Fail(FailureReason::status(404))
        );
    }
}
