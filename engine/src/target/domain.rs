//! Domain names served by the CDN, optionally with a leading wildcard label.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::TargetError;

/// A lowercase host name such as `www.example.com`, or a wildcard such as `*.example.com`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(String);

impl DomainName {
    /// Parses a host name (case-insensitive, without port), `*.` allowed as the first label.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let lower = text.trim().trim_end_matches('.').to_ascii_lowercase();
        let invalid = || TargetError::InvalidHost(text.to_owned());
        let plain = lower.strip_prefix("*.").unwrap_or(&lower);
        if plain.is_empty() || plain.len() > 253 {
            return Err(invalid());
        }
        for label in plain.split('.') {
            let valid = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !valid {
                return Err(invalid());
            }
        }
        Ok(Self(lower))
    }

    /// The name as stored (lowercase).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a `*.` wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// Whether `host` (lowercase, no port) is served by this domain: equal, or for a wildcard,
    /// one or more labels in front of its suffix.
    pub fn matches(&self, host: &str) -> bool {
        match self.0.strip_prefix('*') {
            Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
            None => self.0 == host,
        }
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DomainName {
    type Error = TargetError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DomainName> for String {
    fn from(value: DomainName) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_lowercases() {
        assert_eq!(
            DomainName::parse("WWW.Example.COM").unwrap().as_str(),
            "www.example.com"
        );
        assert_eq!(
            DomainName::parse("*.example.com").unwrap().as_str(),
            "*.example.com"
        );
        assert_eq!(
            DomainName::parse("example.com.").unwrap().as_str(),
            "example.com"
        );
    }

    #[test]
    fn refuses_what_is_not_a_host() {
        for bad in [
            "",
            "*.",
            "a..b",
            "-a.com",
            "a-.com",
            "a b.com",
            "a.com:80",
            "*.*.a.com",
            "ex*.com",
            "a/b",
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(DomainName::parse(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn exact_domains_match_only_themselves() {
        let domain = DomainName::parse("www.example.com").unwrap();
        assert!(domain.matches("www.example.com"));
        assert!(!domain.matches("img.www.example.com"));
        assert!(!domain.matches("example.com"));
    }

    #[test]
    fn wildcards_match_subdomains_but_not_the_apex() {
        let domain = DomainName::parse("*.example.com").unwrap();
        assert!(domain.is_wildcard());
        assert!(domain.matches("img.example.com"));
        assert!(domain.matches("a.b.example.com"));
        assert!(!domain.matches("example.com"));
        assert!(!domain.matches("badexample.com"));
    }
}
