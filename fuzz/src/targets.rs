//! Fuzzes the purge target parsers (`engine::target`): `PurgeUrl`, `UrlPrefix`, `UrlRegex`,
//! `DomainName` and `Target::parse`, on arbitrary text (invalid UTF-8 replaced lossily).
//!
//! Besides "nothing panics", it checks, for every input a parser accepts:
//! - the value keeps the trimmed input as its `as_str()` (at most `MAX_TARGET_LEN` characters),
//!   and re-parsing that string gives the same value (the parsers are idempotent);
//! - the host is lowercase, is accepted by `DomainName::parse` unchanged and is not a wildcard;
//! - paths start with `/`; a prefix's edge pattern compiles and matches exactly the paths under
//!   it; a regex's edge pattern is its path regex grouped after `^` (so the anchor holds for every
//!   alternative) and compiles;
//! - a prefix is also an exact URL with the same host, whose path is the prefix's path (with the
//!   trailing `*` when the client wrote one);
//! - when the same text is both an exact URL and a URL regex, both see the same host;
//! - `Target::parse(kind, text)` gives exactly what the kind's own parser gives;
//! - domain names round-trip through `as_str`, `Display` and `String`, and match as documented
//!   (an exact name matches itself; a wildcard matches a subdomain but not its apex).

use engine::target::{
    DomainName, PurgeUrl, Target, TargetKind, UrlPrefix, UrlRegex, MAX_TARGET_LEN,
};

/// Checks the properties above on one input (what libFuzzer calls with each generated input).
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let trimmed = text.trim();

    let url = PurgeUrl::parse(text);
    if let Ok(url) = &url {
        check_original(url.as_str(), trimmed);
        check_host(url.host(), trimmed);
        assert!(
            url.path_and_query().starts_with('/'),
            "path of {trimmed:?}: {:?}",
            url.path_and_query()
        );
        assert_eq!(
            PurgeUrl::parse(url.as_str()).as_ref(),
            Ok(url),
            "re-parse {trimmed:?}"
        );
    }

    let prefix = UrlPrefix::parse(text);
    if let Ok(prefix) = &prefix {
        check_original(prefix.as_str(), trimmed);
        check_host(prefix.host(), trimmed);
        assert!(
            !trimmed.contains(['?', '#']),
            "prefix with a query: {trimmed:?}"
        );
        assert!(
            prefix.path().starts_with('/'),
            "path of {trimmed:?}: {:?}",
            prefix.path()
        );
        // The edge pattern compiles and matches exactly the paths that start with the prefix.
        let pattern = prefix.edge_pattern();
        let edge = regex::Regex::new(&pattern)
            .unwrap_or_else(|e| panic!("edge pattern {pattern:?} of {trimmed:?}: {e}"));
        for under in ["", "x", "/a/b.png?v=1", "\n.*"] {
            let path = format!("{}{under}", prefix.path());
            assert!(edge.is_match(&path), "{pattern:?} does not match {path:?}");
        }
        let outside = format!("x{}", prefix.path());
        assert!(!edge.is_match(&outside), "{pattern:?} matches {outside:?}");
        assert_eq!(
            UrlPrefix::parse(prefix.as_str()).as_ref(),
            Ok(prefix),
            "re-parse {trimmed:?}"
        );
        // Every prefix is an exact URL too (the directory itself, or the stem with its `*`).
        let as_url = PurgeUrl::parse(text)
            .unwrap_or_else(|e| panic!("prefix {trimmed:?} is not a URL: {e}"));
        assert_eq!(as_url.host(), prefix.host(), "host of {trimmed:?}");
        let starred = format!("{}*", prefix.path());
        assert!(
            as_url.path_and_query() == prefix.path() || as_url.path_and_query() == starred,
            "prefix {trimmed:?}: path {:?}, URL path {:?}",
            prefix.path(),
            as_url.path_and_query()
        );
    }

    let url_regex = UrlRegex::parse(text);
    if let Ok(url_regex) = &url_regex {
        check_original(url_regex.as_str(), trimmed);
        check_host(url_regex.host(), trimmed);
        assert!(
            url_regex.path_regex().starts_with('/'),
            "regex of {trimmed:?}"
        );
        assert!(
            url_regex.as_str().ends_with(url_regex.path_regex()),
            "{trimmed:?} does not end with its path regex {:?}",
            url_regex.path_regex()
        );
        assert_eq!(
            url_regex.edge_pattern(),
            format!("^(?:{})", url_regex.path_regex())
        );
        // What the edges are sent compiles (the parser compiled the path regex alone).
        let pattern = url_regex.edge_pattern();
        if let Err(e) = regex::Regex::new(&pattern) {
            panic!("edge pattern {pattern:?} of {trimmed:?} does not compile: {e}");
        }
        assert_eq!(
            UrlRegex::parse(url_regex.as_str()).as_ref(),
            Ok(url_regex),
            "re-parse {trimmed:?}"
        );
        if let Ok(url) = &url {
            assert_eq!(
                url.host(),
                url_regex.host(),
                "URL and regex hosts of {trimmed:?}"
            );
        }
    }

    // `Target::parse` dispatches to the parser of its kind and reports that kind.
    for (kind, expected) in [
        (TargetKind::Url, url.clone().map(Target::Url)),
        (TargetKind::Prefix, prefix.clone().map(Target::Prefix)),
        (TargetKind::Regex, url_regex.clone().map(Target::Regex)),
    ] {
        let target = Target::parse(kind, text);
        assert_eq!(target, expected, "Target::parse({kind}, {trimmed:?})");
        if let Ok(target) = target {
            assert_eq!(target.kind(), kind);
            assert_eq!(target.as_str(), trimmed);
            check_host(target.host(), trimmed);
        }
        assert_eq!(TargetKind::parse(kind.as_str()), Some(kind));
    }

    if let Ok(domain) = DomainName::parse(text) {
        let name = domain.as_str();
        assert!(
            !name.bytes().any(|b| b.is_ascii_uppercase()),
            "{name:?} is not lowercase"
        );
        assert!(name.len() <= 255, "{name:?} is too long");
        assert_eq!(domain.is_wildcard(), name.starts_with("*."));
        assert!(!name.ends_with('.'), "{name:?} keeps its trailing dot");
        assert_eq!(
            DomainName::parse(name).as_ref(),
            Ok(&domain),
            "re-parse {name:?}"
        );
        assert_eq!(domain.to_string(), name);
        assert_eq!(
            DomainName::try_from(String::from(domain.clone())).as_ref(),
            Ok(&domain)
        );
        match name.strip_prefix("*.") {
            Some(apex) => {
                assert!(!apex.contains('*'), "{name:?} has a second wildcard");
                assert!(
                    domain.matches(&format!("www.{apex}")),
                    "{name:?} vs a subdomain"
                );
                assert!(!domain.matches(apex), "{name:?} matches its apex");
            }
            None => {
                assert!(!name.contains('*'), "{name:?} has a wildcard inside");
                assert!(domain.matches(name), "{name:?} does not match itself");
                assert!(
                    !domain.matches(&format!("www.{name}")),
                    "{name:?} vs a subdomain"
                );
            }
        }
    }
}

/// The parsed value keeps the trimmed input, which is at most `MAX_TARGET_LEN` characters.
fn check_original(original: &str, trimmed: &str) {
    assert_eq!(original, trimmed);
    assert!(!original.is_empty());
    assert!(
        original.chars().count() <= MAX_TARGET_LEN,
        "{trimmed:?} is too long"
    );
}

/// A parsed host is lowercase, a valid non-wildcard domain name, unchanged by `DomainName::parse`.
fn check_host(host: &str, trimmed: &str) {
    assert!(
        !host.bytes().any(|b| b.is_ascii_uppercase()),
        "host {host:?} of {trimmed:?} is not lowercase"
    );
    let domain = DomainName::parse(host)
        .unwrap_or_else(|e| panic!("host {host:?} of {trimmed:?} is refused: {e}"));
    assert_eq!(
        domain.as_str(),
        host,
        "host of {trimmed:?} is not normalised"
    );
    assert!(
        !domain.is_wildcard(),
        "wildcard host {host:?} in {trimmed:?}"
    );
}
