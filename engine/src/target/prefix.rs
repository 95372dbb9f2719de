//! URL prefixes: "everything under this path".

use super::url::parse_http_url;
use super::{check_length, TargetError};

/// A URL whose path ends in `/` or `*`, purging every object under that path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlPrefix {
    original: String,
    host: String,
    path: String,
}

impl UrlPrefix {
    /// Parses a prefix URL such as `http://www.a.com/static/` or `http://www.a.com/img/logo*`.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let text = check_length(text)?;
        if text.contains(['?', '#']) {
            return Err(TargetError::NotAPrefix);
        }
        let (original, host, path) = parse_http_url(text)?;
        let path = if let Some(stem) = path.strip_suffix('*') {
            stem.to_owned()
        } else if path.ends_with('/') && text.ends_with('/') {
            path
        } else {
            return Err(TargetError::NotAPrefix);
        };
        Ok(Self {
            original,
            host,
            path,
        })
    }

    /// The prefix as the client sent it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The lowercase host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The path every purged object starts with (without a trailing `*`), percent-encoded.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The anchored path regex sent to edges that ban by pattern: `^` + the escaped path.
    pub fn edge_pattern(&self) -> String {
        format!("^{}", regex::escape(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_slash_is_a_directory() {
        let prefix = UrlPrefix::parse("http://www.a.com/static/").unwrap();
        assert_eq!(prefix.host(), "www.a.com");
        assert_eq!(prefix.path(), "/static/");
        assert_eq!(prefix.edge_pattern(), "^/static/");
    }

    #[test]
    fn a_trailing_star_is_a_stem() {
        let prefix = UrlPrefix::parse("http://www.a.com/img/logo.v1*").unwrap();
        assert_eq!(prefix.path(), "/img/logo.v1");
        assert_eq!(prefix.edge_pattern(), "^/img/logo\\.v1");
    }

    #[test]
    fn the_root_is_a_prefix() {
        assert_eq!(UrlPrefix::parse("http://www.a.com/").unwrap().path(), "/");
        // `http://www.a.com` parses as path `/`, but the client did not write a directory.
        assert_eq!(
            UrlPrefix::parse("http://www.a.com"),
            Err(TargetError::NotAPrefix)
        );
    }

    #[test]
    fn refuses_plain_urls_and_queries() {
        assert_eq!(
            UrlPrefix::parse("http://www.a.com/a.png"),
            Err(TargetError::NotAPrefix)
        );
        assert_eq!(
            UrlPrefix::parse("http://www.a.com/a/?x=1"),
            Err(TargetError::NotAPrefix)
        );
        assert!(UrlPrefix::parse("www.a.com/a/").is_err());
    }
}
