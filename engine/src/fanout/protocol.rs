//! What request each protocol preset sends for a target, and what its answers mean.

use super::template;
use crate::fleet::Protocol;
use crate::target::{PurgeMode, Target};
use crate::tasks::FailureReason;

/// The header Varnish's VCL reads the ban pattern from.
pub const BAN_HEADER: &str = "X-Ban-Regex";

/// The header Varnish's VCL reads the cache tag to purge from (the xkey vmod's convention).
pub const TAG_HEADER: &str = "xkey-purge";

/// The method of a prefetch: the request a visitor makes.
pub const PREFETCH_METHOD: &str = "GET";

/// The header that asks Varnish's VCL to invalidate (soft purge) instead of delete.
pub const MODE_HEADER: &str = "X-Purge-Mode";

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

/// The `GET` a visitor makes for `url` (prefetches, and the fetch after a verified purge): the
/// same through every preset.
pub fn fetch_request(url: &crate::target::PurgeUrl) -> EdgeRequest {
    EdgeRequest {
        method: PREFETCH_METHOD.to_owned(),
        path: url.path_and_query().to_owned(),
        host: url.host().to_owned(),
        headers: Vec::new(),
    }
}

/// Builds the request `protocol` uses for `target` in `mode`, or `None` when the protocol cannot
/// express it.
///
/// Varnish (the shipped VCL) deletes and invalidates URLs and tags (`purge.soft`,
/// `xkey.softpurge`); its prefixes, regexes and everything are bans, which cannot be soft. nginx
/// (ngx_cache_purge) deletes URLs, and with `prefix_wildcard` prefixes and everything (`/*`);
/// Squid and ATS delete URLs.
pub fn build_request(target: &Target, mode: PurgeMode, protocol: &Protocol) -> Option<EdgeRequest> {
    let host = target.host().to_owned();
    let soft = mode == PurgeMode::Invalidate;
    let plain = |method: &str, path: String| EdgeRequest {
        method: method.to_owned(),
        path,
        host: host.clone(),
        headers: Vec::new(),
    };
    let varnish_purge = |path: String, tag: Option<&str>| {
        let mut request = plain("PURGE", path);
        if let Some(tag) = tag {
            request
                .headers
                .push((TAG_HEADER.to_owned(), tag.to_owned()));
        }
        if soft {
            request.headers.push((
                MODE_HEADER.to_owned(),
                PurgeMode::Invalidate.as_str().to_owned(),
            ));
        }
        request
    };
    let ban = |pattern: String| EdgeRequest {
        method: "BAN".to_owned(),
        path: "/".to_owned(),
        host: host.clone(),
        headers: vec![(BAN_HEADER.to_owned(), pattern)],
    };
    match (protocol, target) {
        // A prefetch is what a visitor sends, whatever the edge: GET through it.
        (_, Target::Prefetch(url)) => Some(fetch_request(url)),
        (Protocol::Custom(template), target) => {
            template::custom_request(template, target, mode, &host)
        }
        (Protocol::Varnish, Target::Url(url)) => {
            Some(varnish_purge(url.path_and_query().to_owned(), None))
        }
        (Protocol::Varnish, Target::Tag(tag)) => {
            Some(varnish_purge("/".to_owned(), Some(tag.as_str())))
        }
        // Everything below deletes: bans and the other presets cannot invalidate.
        _ if soft => None,
        (Protocol::Varnish, Target::Prefix(prefix)) => Some(ban(prefix.edge_pattern())),
        (Protocol::Varnish, Target::Regex(regex)) => Some(ban(regex.edge_pattern())),
        (Protocol::Varnish, Target::Everything(whole)) => {
            Some(ban(whole.edge_pattern().to_owned()))
        }
        (Protocol::Nginx { .. } | Protocol::Squid | Protocol::Ats, Target::Url(url)) => {
            Some(plain("PURGE", url.path_and_query().to_owned()))
        }
        (
            Protocol::Nginx {
                prefix_wildcard: true,
            },
            Target::Prefix(prefix),
        ) => Some(plain("PURGE", format!("{}*", prefix.path()))),
        (
            Protocol::Nginx {
                prefix_wildcard: true,
            },
            Target::Everything(_),
        ) => Some(plain("PURGE", "/*".to_owned())),
        (Protocol::Nginx { .. } | Protocol::Squid | Protocol::Ats, _) => None,
    }
}

/// How many of `nodes` cannot express `target` in `mode`, per protocol preset name (those
/// that can are left out).
pub fn unexpressible(
    target: &Target,
    mode: PurgeMode,
    nodes: &[crate::fleet::NodeTarget],
) -> Vec<(&'static str, usize)> {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for node in nodes {
        if build_request(target, mode, &node.protocol).is_some() {
            continue;
        }
        let name = node.protocol.name();
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => counts.push((name, 1)),
        }
    }
    counts
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

/// Classifies a node's answer to a `method` request by the protocol's success codes (a prefetch's
/// `GET` by 2xx only).
///
/// A 404 to a purge means the node holds nothing to purge (many Varnish configurations answer
/// `404 Not in cache`, as ngx_cache_purge, Squid and ATS do): success. A 404 to a `BAN` is not:
/// a ban is never "not cached", so it says the edge does not know the method or the route.
pub fn classify_status(protocol: &Protocol, method: &str, status: u16) -> StatusVerdict {
    if method == PREFETCH_METHOD {
        // A prefetch fetched the object only when the edge served it.
        return match status {
            200..=299 => StatusVerdict::Success,
            500.. | 429 => StatusVerdict::Retry(FailureReason::status(status)),
            _ => StatusVerdict::Fail(FailureReason::status(status)),
        };
    }
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

    fn delete(target: &Target, protocol: &Protocol) -> Option<EdgeRequest> {
        build_request(target, PurgeMode::Delete, protocol)
    }

    fn target(kind: TargetKind, text: &str) -> Target {
        Target::parse(kind, text).unwrap()
    }

    #[test]
    fn varnish_purges_urls_and_bans_patterns() {
        let request = delete(
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
        let request = delete(
            &target(TargetKind::Regex, "http://www.a.com/test/.*\\.txt"),
            &Protocol::Varnish,
        )
        .unwrap();
        assert_eq!(request.method, "BAN");
        assert_eq!(
            request.headers,
            vec![(BAN_HEADER.to_owned(), "^(?:/test/.*\\.txt)".to_owned())]
        );
        let request = delete(
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
            delete(
                &regex,
                &Protocol::Nginx {
                    prefix_wildcard: true
                }
            ),
            None
        );
        assert_eq!(
            delete(
                &prefix,
                &Protocol::Nginx {
                    prefix_wildcard: false
                }
            ),
            None
        );
        let request = delete(
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
        assert_eq!(delete(&prefix, &Protocol::Squid), None);
        assert!(delete(
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

    #[test]
    fn varnish_purges_tags_and_invalidates_urls_and_tags() {
        let tag = Target::parse_on(TargetKind::Tag, "product-42", Some("www.a.com")).unwrap();
        let request = delete(&tag, &Protocol::Varnish).unwrap();
        assert_eq!(
            (
                request.method.as_str(),
                request.path.as_str(),
                request.host.as_str()
            ),
            ("PURGE", "/", "www.a.com")
        );
        assert_eq!(
            request.headers,
            vec![(TAG_HEADER.to_owned(), "product-42".to_owned())]
        );
        let soft = build_request(&tag, PurgeMode::Invalidate, &Protocol::Varnish).unwrap();
        assert!(soft
            .headers
            .contains(&(MODE_HEADER.to_owned(), "invalidate".to_owned())));
        let url = target(TargetKind::Url, "http://www.a.com/x");
        let soft = build_request(&url, PurgeMode::Invalidate, &Protocol::Varnish).unwrap();
        assert_eq!(
            (soft.path.as_str(), soft.headers.len()),
            ("/x", 1),
            "{soft:?}"
        );
        let regex = target(TargetKind::Regex, "http://www.a.com/.*");
        assert_eq!(
            build_request(&regex, PurgeMode::Invalidate, &Protocol::Varnish),
            None
        );
    }

    #[test]
    fn everything_is_a_ban_on_varnish_and_a_wildcard_on_nginx() {
        let all = Target::parse_on(TargetKind::Everything, "*", Some("www.a.com")).unwrap();
        let ban = delete(&all, &Protocol::Varnish).unwrap();
        assert_eq!(ban.method, "BAN");
        assert_eq!(ban.headers, vec![(BAN_HEADER.to_owned(), ".*".to_owned())]);
        let wildcard = Protocol::Nginx {
            prefix_wildcard: true,
        };
        assert_eq!(delete(&all, &wildcard).unwrap().path, "/*");
        let plain = Protocol::Nginx {
            prefix_wildcard: false,
        };
        assert_eq!(delete(&all, &plain), None);
        let tag = Target::parse_on(TargetKind::Tag, "t", Some("www.a.com")).unwrap();
        assert_eq!(delete(&tag, &wildcard), None);
        assert_eq!(delete(&tag, &Protocol::Squid), None);
        let url = target(TargetKind::Url, "http://www.a.com/x");
        assert_eq!(build_request(&url, PurgeMode::Invalidate, &wildcard), None);
    }

    #[test]
    fn a_prefetch_is_a_get_through_any_edge_and_only_2xx_is_success() {
        let url = Target::parse(TargetKind::Prefetch, "http://www.a.com/app.js?v=3").unwrap();
        for protocol in [Protocol::Varnish, Protocol::Squid, Protocol::Ats] {
            let request = delete(&url, &protocol).unwrap();
            assert_eq!(
                (
                    request.method.as_str(),
                    request.path.as_str(),
                    request.host.as_str()
                ),
                ("GET", "/app.js?v=3", "www.a.com")
            );
        }
        assert_eq!(
            classify_status(&Protocol::Varnish, "GET", 200),
            StatusVerdict::Success
        );
        assert_eq!(
            classify_status(&Protocol::Varnish, "GET", 404),
            StatusVerdict::Fail(FailureReason::status(404))
        );
        assert_eq!(
            classify_status(&Protocol::Ats, "GET", 503),
            StatusVerdict::Retry(FailureReason::status(503))
        );
    }

    #[test]
    fn unexpressible_counts_the_nodes_that_cannot_per_preset() {
        let node = |port: u16, protocol: Protocol| crate::fleet::NodeTarget {
            node_id: crate::fleet::NodeId(i64::from(port)),
            ip: "127.0.0.1".parse().unwrap(),
            port,
            protocol,
        };
        let nginx = Protocol::Nginx {
            prefix_wildcard: false,
        };
        let nodes = [
            node(1, Protocol::Varnish),
            node(2, nginx.clone()),
            node(3, nginx),
            node(4, Protocol::Squid),
        ];
        let tag = Target::parse_on(TargetKind::Tag, "t", Some("www.a.com")).unwrap();
        assert_eq!(
            unexpressible(&tag, PurgeMode::Delete, &nodes),
            vec![("nginx", 2), ("squid", 1)]
        );
        let url = target(TargetKind::Url, "http://www.a.com/x");
        assert_eq!(unexpressible(&url, PurgeMode::Delete, &nodes), vec![]);
        assert_eq!(unexpressible(&url, PurgeMode::Invalidate, &nodes).len(), 2);
    }
}
