//! Exact URLs to purge.

use super::{check_length, DomainName, TargetError};

/// An absolute `http(s)` URL, as the client wrote it, with the host and the request path an edge
/// cache stored it under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgeUrl {
    original: String,
    host: String,
    path_and_query: String,
}

impl PurgeUrl {
    /// Parses an absolute `http://` or `https://` URL of at most 2000 characters.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let text = check_length(text)?;
        let (original, host, path_and_query) = parse_http_url(text)?;
        Ok(Self {
            original,
            host,
            path_and_query,
        })
    }

    /// The URL as the client sent it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The lowercase host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The path and query an edge receives in the request line, percent-encoded.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }
}

/// Parses and normalises an absolute http(s) URL: (original, host, path?query).
pub(super) fn parse_http_url(text: &str) -> Result<(String, String, String), TargetError> {
    let not_http = || TargetError::NotHttpUrl(text.to_owned());
    super::check_percent_encoding(text)?;
    let parsed = url::Url::parse(text).map_err(|_| not_http())?;
    if !matches!(parsed.scheme(), "http" | "https")
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return Err(not_http());
    }
    let host = match parsed.host() {
        Some(url::Host::Domain(domain)) => DomainName::parse(domain)?,
        _ => return Err(TargetError::InvalidHost(text.to_owned())),
    };
    if host.is_wildcard() {
        return Err(TargetError::InvalidHost(text.to_owned()));
    }
    let mut path_and_query = parsed.path().to_owned();
    if let Some(query) = parsed.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    Ok((text.to_owned(), host.as_str().to_owned(), path_and_query))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_control_characters_invalid_utf8_and_bad_escapes() {
        for bad in [
            "http://www.a.com/\u{0}",
            "http://www.a.com/a\tb",
            "http://www.a.com/\u{7f}",
            "http://www.a.com/\u{fffd}",
            "http://www.a.com/%ZZ",
            "http://www.a.com/%4",
            "http://www.a.com/100%",
        ] {
            assert!(PurgeUrl::parse(bad).is_err(), "{bad:?}");
        }
        assert!(PurgeUrl::parse("http://www.a.com/%E4%BD%A0?q=%2F").is_ok());
        assert!(PurgeUrl::parse("http://www.a.com/你好").is_ok());
    }

    #[test]
    fn parses_the_seed_example() {
        let url = PurgeUrl::parse("http://www.iqiyi.com/hello.gif").unwrap();
        assert_eq!(url.as_str(), "http://www.iqiyi.com/hello.gif");
        assert_eq!(url.host(), "www.iqiyi.com");
        assert_eq!(url.path_and_query(), "/hello.gif");
    }

    #[test]
    fn keeps_the_query_and_drops_the_fragment() {
        let url = PurgeUrl::parse("https://Img.Example.com/a/b.png?v=2&x=y#top").unwrap();
        assert_eq!(url.host(), "img.example.com");
        assert_eq!(url.path_and_query(), "/a/b.png?v=2&x=y");
        assert_eq!(url.as_str(), "https://Img.Example.com/a/b.png?v=2&x=y#top");
    }

    #[test]
    fn percent_encodes_the_request_path() {
        let url = PurgeUrl::parse("http://a.com/a b/<x>.png").unwrap();
        assert_eq!(url.path_and_query(), "/a%20b/%3Cx%3E.png");
    }

    #[test]
    fn refuses_what_is_not_an_http_url() {
        for bad in [
            "",
            "   ",
            "www.a.com/x",
            "ftp://a.com/x",
            "http://",
            "http://user:pw@a.com/x",
            "http://127.0.0.1/x",
            "http://[::1]/x",
            "http://*.a.com/x",
            "javascript:alert(1)",
        ] {
            assert!(PurgeUrl::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn refuses_more_than_2000_characters() {
        let base = "http://a.com/";
        let ok = format!("{base}{}", "x".repeat(2000 - base.len()));
        assert!(PurgeUrl::parse(&ok).is_ok());
        let long = format!("{ok}x");
        assert_eq!(PurgeUrl::parse(&long), Err(TargetError::TooLong));
    }
}
