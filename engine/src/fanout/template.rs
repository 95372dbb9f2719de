//! Custom edge templates: each placeholder (`{path}`, `{pattern}`, `{host}`, `{tag}`, `{mode}`)
//! is encoded for where it stands (path, query value, header value), so that no target can add
//! parameters or headers to the edge's purge API; a target that cannot be expressed safely is
//! refused.
//!
//! A tag target needs a template with `{tag}` (its `{path}` is `/`, its `{pattern}` empty; other
//! targets fill `{tag}` with nothing); everything on a domain is the prefix `/` and needs
//! `supports_patterns`; an invalidation needs a template with `{mode}` (`delete` or
//! `invalidate`), since a template without it can only delete.

use super::protocol::EdgeRequest;
use crate::fleet::CustomTemplate;
use crate::target::{PurgeMode, Target};

/// The placeholders a template may hold.
const PLACEHOLDERS: [&str; 5] = ["{path}", "{pattern}", "{host}", "{tag}", "{mode}"];

/// The request a custom template makes for `target` in `mode`, or `None` when the template
/// cannot express it safely (a pattern where the template takes none, a tag or a mode it has no
/// place for, a value that cannot stand where it goes).
pub(super) fn custom_request(
    template: &CustomTemplate,
    target: &Target,
    mode: PurgeMode,
    host: &str,
) -> Option<EdgeRequest> {
    let mentions = |name: &str| {
        template.path.contains(name) || template.headers.values().any(|v| v.contains(name))
    };
    if mode == PurgeMode::Invalidate && !mentions("{mode}") {
        return None;
    }
    let values = match target {
        Target::Url(url) => {
            let full = url.path_and_query();
            let (path, query) = match full.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (full, None),
            };
            Placeholders {
                path_full: full,
                path,
                path_encoded: true,
                url_query: query,
                pattern: regex::escape(full),
                host,
                tag: "",
                mode: mode.as_str(),
            }
        }
        Target::Prefix(prefix) if template.supports_patterns => Placeholders {
            path_full: prefix.path(),
            path: prefix.path(),
            path_encoded: true,
            url_query: None,
            pattern: prefix.edge_pattern(),
            host,
            tag: "",
            mode: mode.as_str(),
        },
        Target::Regex(regex) if template.supports_patterns => Placeholders {
            path_full: regex.path_regex(),
            path: regex.path_regex(),
            path_encoded: false,
            url_query: None,
            pattern: regex.edge_pattern(),
            host,
            tag: "",
            mode: mode.as_str(),
        },
        Target::Everything(_) if template.supports_patterns => Placeholders {
            path_full: "/",
            path: "/",
            path_encoded: true,
            url_query: None,
            pattern: "^/".to_owned(),
            host,
            tag: "",
            mode: mode.as_str(),
        },
        Target::Tag(tag) if mentions("{tag}") => Placeholders {
            path_full: "/",
            path: "/",
            path_encoded: true,
            url_query: None,
            pattern: String::new(),
            host,
            tag: tag.as_str(),
            mode: mode.as_str(),
        },
        _ => return None,
    };
    let headers = template
        .headers
        .iter()
        .map(|(name, value)| Some((name.clone(), fill(value, &values, Position::Header)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(EdgeRequest {
        method: template.method.clone(),
        path: fill_request_target(&template.path, &values)?,
        host: host.to_owned(),
        headers,
    })
}

/// The values a custom template's placeholders stand for.
struct Placeholders<'a> {
    /// `{path}` in a query or a header: a URL's path and query, or a prefix or path regex.
    path_full: &'a str,
    /// `{path}` in the path: without a URL's query.
    path: &'a str,
    /// Whether `path` is a URL path (already percent-encoded) rather than regex text.
    path_encoded: bool,
    /// A URL target's query.
    url_query: Option<&'a str>,
    pattern: String,
    host: &'a str,
    /// A tag target's tag; empty for the others.
    tag: &'a str,
    /// `delete` or `invalidate`.
    mode: &'a str,
}

/// Where a placeholder stands in the request, which decides how its value is encoded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Before the template's first `?`.
    Path,
    /// After it: the value becomes one query value, whatever it contains.
    Query,
    /// A header value.
    Header,
}

/// Fills the request-target template: before its first `?` as a path, after it as a query. A
/// URL's own query follows `{path}` only where `{path}` ends a template without a query (it then
/// gives a request without parameters its only ones); elsewhere such a target is not expressible.
fn fill_request_target(template: &str, values: &Placeholders) -> Option<String> {
    let (path, query) = match template.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (template, None),
    };
    let mut out = fill(path, values, Position::Path)?;
    if let (Some(url_query), true) = (values.url_query, path.contains("{path}")) {
        if query.is_some() || !path.ends_with("{path}") || path.matches("{path}").count() > 1 {
            return None;
        }
        out.push('?');
        out.push_str(url_query);
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(&fill(query, values, Position::Query)?);
    }
    Some(out)
}

/// Replaces each placeholder of `text` with its value encoded for
/// `position` (other braces stay); `None` when a value cannot stand there safely.
fn fill(text: &str, values: &Placeholders, position: Position) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let name = PLACEHOLDERS.into_iter().find(|name| rest.starts_with(name));
        let Some(name) = name else {
            out.push('{');
            rest = &rest[1..];
            continue;
        };
        out.push_str(&encode(name, values, position)?);
        rest = &rest[name.len()..];
    }
    out.push_str(rest);
    Some(out)
}

fn encode(name: &str, values: &Placeholders, position: Position) -> Option<String> {
    let value = match (name, position) {
        ("{path}", Position::Path) => values.path,
        ("{path}", _) => values.path_full,
        ("{pattern}", _) => &values.pattern,
        ("{tag}", _) => values.tag,
        ("{mode}", _) => values.mode,
        _ => values.host,
    };
    match position {
        // A URL path is percent-encoded already: kept as is, so that the edge decodes it to the
        // object's path. Regex text, patterns and hosts are encoded whole.
        Position::Path if name == "{path}" && values.path_encoded => value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#'))
            .then(|| value.to_owned()),
        Position::Path | Position::Query => Some(percent_encode(value)),
        // Visible ASCII and spaces only: no line break can start another header.
        Position::Header => value
            .bytes()
            .all(|b| b == b' ' || b.is_ascii_graphic())
            .then(|| value.to_owned()),
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::fanout::protocol::{build_request, classify_status, StatusVerdict};
    use crate::fleet::{CustomTemplate, Protocol};
    use crate::target::{PurgeMode, Target, TargetKind};

    fn delete(target: &Target, protocol: &Protocol) -> Option<super::EdgeRequest> {
        build_request(target, PurgeMode::Delete, protocol)
    }

    fn target(kind: TargetKind, text: &str) -> Target {
        Target::parse(kind, text).unwrap()
    }

    fn custom(path: &str, header: &str) -> Protocol {
        Protocol::Custom(CustomTemplate {
            method: "POST".into(),
            path: path.into(),
            headers: BTreeMap::from([("X-Purge".to_owned(), header.to_owned())]),
            supports_patterns: true,
            success_statuses: vec![404],
        })
    }

    #[test]
    fn custom_templates_fill_path_pattern_and_host() {
        let protocol = custom("/purge?host={host}&path={path}", "{pattern}");
        let request = delete(
            &target(TargetKind::Regex, "http://www.a.com/a/.*"),
            &protocol,
        )
        .unwrap();
        assert_eq!(request.path, "/purge?host=www.a.com&path=/a/.%2A");
        assert_eq!(
            request.headers,
            vec![("X-Purge".to_owned(), "^(?:/a/.*)".to_owned())]
        );
        assert_eq!(
            classify_status(&protocol, "POST", 404),
            StatusVerdict::Success
        );
        let mirror = custom("/purge{path}", "{path}");
        let request = delete(
            &target(TargetKind::Url, "http://www.a.com/caf%C3%A9.png?v=1"),
            &mirror,
        )
        .unwrap();
        assert_eq!(request.path, "/purge/caf%C3%A9.png?v=1");
        assert_eq!(request.headers[0].1, "/caf%C3%A9.png?v=1");
    }

    #[test]
    fn custom_placeholders_cannot_inject_parameters_or_headers() {
        let protocol = custom("/purge?host={host}&path={path}", "{path}");
        let request = delete(
            &target(
                TargetKind::Url,
                "http://mine.example/x?a=1&host=victim.example",
            ),
            &protocol,
        )
        .unwrap();
        assert_eq!(
            request.path,
            "/purge?host=mine.example&path=/x%3Fa%3D1%26host%3Dvictim.example"
        );
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(request.path.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(
            query,
            vec![
                ("host".to_owned(), "mine.example".to_owned()),
                ("path".to_owned(), "/x?a=1&host=victim.example".to_owned()),
            ]
        );
        // A URL's query in the path position is only safe where it ends a template without one.
        let query_target = target(TargetKind::Url, "http://mine.example/x?host=victim.example");
        for template in ["/purge{path}?host={host}", "/purge{path}/{host}"] {
            assert_eq!(
                delete(&query_target, &custom(template, "x")),
                None,
                "{template}"
            );
        }
        // Regex text in the path is encoded whole; in a header it must be one clean line.
        let regex = target(TargetKind::Regex, "http://mine.example/a b/(x|y)?#");
        let request = delete(&regex, &custom("/ban/{path}", "x")).unwrap();
        assert_eq!(request.path, "/ban//a%20b/%28x%7Cy%29%3F%23");
        let request = delete(&regex, &custom("/ban", "{pattern}")).unwrap();
        assert_eq!(request.headers[0].1, "^(?:/a b/(x|y)?#)");
    }

    #[test]
    fn tags_and_modes_need_their_placeholders() {
        let tag = Target::parse_on(TargetKind::Tag, "product-42", Some("www.a.com")).unwrap();
        let url = target(TargetKind::Url, "http://www.a.com/x");
        assert_eq!(delete(&tag, &custom("/purge{path}", "x")), None);
        let request = delete(&tag, &custom("/tags/{tag}", "{host}")).unwrap();
        assert_eq!(request.path, "/tags/product-42");
        let request = build_request(
            &url,
            PurgeMode::Invalidate,
            &custom("/purge{path}?mode={mode}", "{tag}"),
        )
        .unwrap();
        assert_eq!(request.path, "/purge/x?mode=invalidate");
        assert_eq!(request.headers[0].1, "", "a URL fills {{tag}} with nothing");
        assert_eq!(
            build_request(&url, PurgeMode::Invalidate, &custom("/purge{path}", "x")),
            None,
            "a template without {{mode}} can only delete"
        );
    }
}
