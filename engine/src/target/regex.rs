//! URL regexes: a literal `scheme://host/` followed by a path regex.

use super::{check_length, split_scheme_host, DomainName, TargetError};

/// The most memory a compiled path regex may take, in bytes.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// A URL regex such as `http://www.abc.com/test/.*\.txt`: the scheme and host are literal (their
/// dots are not regex), the path after them is a regex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlRegex {
    original: String,
    host: String,
    path_regex: String,
}

impl UrlRegex {
    /// Parses a URL regex of at most 2000 characters whose path regex compiles within the size limit.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let text = check_length(text)?;
        let (host, path_regex) = split_scheme_host(text)?;
        let host = DomainName::parse(host)?;
        if host.is_wildcard() {
            return Err(TargetError::InvalidHost(text.to_owned()));
        }
        if !path_regex.starts_with('/') {
            return Err(TargetError::InvalidRegex(format!(
                "{text}: the path regex must start with /"
            )));
        }
        regex::RegexBuilder::new(path_regex)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| TargetError::InvalidRegex(first_line(&e.to_string())))?;
        Ok(Self {
            original: text.to_owned(),
            host: host.as_str().to_owned(),
            path_regex: path_regex.to_owned(),
        })
    }

    /// The regex as the client sent it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The lowercase host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The path regex (from the first `/` after the host).
    pub fn path_regex(&self) -> &str {
        &self.path_regex
    }

    /// The anchored pattern sent to edges: the path regex in a group after `^`, so that the
    /// anchor holds for every alternative (`/a|/b` must not match `/x/b`).
    pub fn edge_pattern(&self) -> String {
        format!("^(?:{})", self.path_regex)
    }
}

fn first_line(message: &str) -> String {
    message
        .lines()
        .rev()
        .find(|line| line.starts_with("error:"))
        .or_else(|| message.lines().next())
        .unwrap_or(message)
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anchor_holds_for_every_alternative() {
        let regex = UrlRegex::parse("http://www.a.com/a|/b").unwrap();
        let edge = regex::Regex::new(&regex.edge_pattern()).unwrap();
        assert!(edge.is_match("/a/x") && edge.is_match("/b"));
        assert!(!edge.is_match("/x/b"), "an alternative escaped the anchor");
        let empty_branch = UrlRegex::parse("http://www.a.com/x|").unwrap();
        let edge = regex::Regex::new(&empty_branch.edge_pattern()).unwrap();
        assert!(edge.is_match("/x") && edge.is_match("/anything"));
    }

    #[test]
    fn parses_the_seed_examples() {
        let regex = UrlRegex::parse("http://www.abc.com/test/.*\\.txt").unwrap();
        assert_eq!(regex.host(), "www.abc.com");
        assert_eq!(regex.path_regex(), "/test/.*\\.txt");
        assert_eq!(regex.edge_pattern(), "^(?:/test/.*\\.txt)");
        let regex = UrlRegex::parse("http://www.a.com/(.*).png").unwrap();
        assert_eq!(regex.edge_pattern(), "^(?:/(.*).png)");
    }

    #[test]
    fn the_host_is_literal() {
        // A regex in the host is refused: only the path is a pattern.
        assert!(UrlRegex::parse("http://www.a.c.m/x").is_ok());
        assert!(UrlRegex::parse("http://www.(a|b).com/x").is_err());
        assert!(UrlRegex::parse("http://.*.a.com/x").is_err());
        assert!(UrlRegex::parse("https://*.a.com/x").is_err());
    }

    #[test]
    fn refuses_regexes_that_do_not_compile() {
        let error = UrlRegex::parse("http://www.a.com/(unclosed").unwrap_err();
        assert!(matches!(error, TargetError::InvalidRegex(_)), "{error:?}");
        assert!(UrlRegex::parse("http://www.a.com/[z-a]").is_err());
    }

    #[test]
    fn refuses_regexes_too_large_to_compile() {
        let huge = format!("http://www.a.com/{}", "(a{1000}){1000}");
        assert!(matches!(
            UrlRegex::parse(&huge),
            Err(TargetError::InvalidRegex(_))
        ));
    }

    #[test]
    fn refuses_missing_paths_and_schemes() {
        assert!(UrlRegex::parse("http://www.a.com").is_err());
        assert!(UrlRegex::parse("www.a.com/.*").is_err());
        assert!(UrlRegex::parse("").is_err());
        assert!(UrlRegex::parse(&format!("http://a.com/{}", "x".repeat(2000))).is_err());
    }
}
