//! Purge targets, parsed once at the boundary: exact URLs, URL prefixes and URL regexes.

mod domain;
mod prefix;
mod regex;
mod url;

pub use self::domain::DomainName;
pub use self::prefix::UrlPrefix;
pub use self::regex::UrlRegex;
pub use self::url::PurgeUrl;

use serde::{Deserialize, Serialize};

/// The longest target accepted, in characters.
pub const MAX_TARGET_LEN: usize = 2000;

/// The three kinds of purge target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// One exact URL.
    Url,
    /// Every URL under a path.
    Prefix,
    /// Every URL whose path matches a regex.
    Regex,
}

impl TargetKind {
    /// All kinds, in display order.
    pub const ALL: [TargetKind; 3] = [TargetKind::Url, TargetKind::Prefix, TargetKind::Regex];

    /// The lowercase name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Url => "url",
            TargetKind::Prefix => "prefix",
            TargetKind::Regex => "regex",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl std::fmt::Display for TargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a target was refused by the parser.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Empty after trimming.
    #[error("the target is empty")]
    Empty,
    /// Longer than [`MAX_TARGET_LEN`].
    #[error("the target is longer than {MAX_TARGET_LEN} characters")]
    TooLong,
    /// Not an absolute `http://` or `https://` URL.
    #[error("not an absolute http(s) URL: {0}")]
    NotHttpUrl(String),
    /// The host part is not a valid domain name.
    #[error("invalid host name: {0}")]
    InvalidHost(String),
    /// A prefix must end in `/` or `*`.
    #[error("a prefix must end in / or *")]
    NotAPrefix,
    /// The path regex does not compile (or is too large).
    #[error("invalid regex: {0}")]
    InvalidRegex(String),
    /// A control character, or U+FFFD (what invalid UTF-8 decodes to).
    #[error("the target contains a control character or invalid UTF-8")]
    InvalidCharacter,
    /// A `%` not followed by two hexadecimal digits.
    #[error("malformed percent-encoding in {0}")]
    BadPercentEncoding(String),
}

/// A parsed target of any kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An exact URL.
    Url(PurgeUrl),
    /// A URL prefix.
    Prefix(UrlPrefix),
    /// A URL regex.
    Regex(UrlRegex),
}

impl Target {
    /// Parses `text` as a target of `kind`.
    pub fn parse(kind: TargetKind, text: &str) -> Result<Self, TargetError> {
        Ok(match kind {
            TargetKind::Url => Target::Url(PurgeUrl::parse(text)?),
            TargetKind::Prefix => Target::Prefix(UrlPrefix::parse(text)?),
            TargetKind::Regex => Target::Regex(UrlRegex::parse(text)?),
        })
    }

    /// The kind of this target.
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Url(_) => TargetKind::Url,
            Target::Prefix(_) => TargetKind::Prefix,
            Target::Regex(_) => TargetKind::Regex,
        }
    }

    /// The target as the client wrote it (trimmed).
    pub fn as_str(&self) -> &str {
        match self {
            Target::Url(url) => url.as_str(),
            Target::Prefix(prefix) => prefix.as_str(),
            Target::Regex(regex) => regex.as_str(),
        }
    }

    /// The host whose cache the target purges (lowercase).
    pub fn host(&self) -> &str {
        match self {
            Target::Url(url) => url.host(),
            Target::Prefix(prefix) => prefix.host(),
            Target::Regex(regex) => regex.host(),
        }
    }
}

/// Checks the common outer shape: trimmed, non-empty, not too long.
fn check_length(text: &str) -> Result<&str, TargetError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(TargetError::Empty);
    }
    if text.chars().count() > MAX_TARGET_LEN {
        return Err(TargetError::TooLong);
    }
    if text
        .chars()
        .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER)
    {
        return Err(TargetError::InvalidCharacter);
    }
    Ok(text)
}

/// Refuses a `%` that does not start a `%XX` escape (URLs and prefixes; regexes have their own
/// syntax).
fn check_percent_encoding(text: &str) -> Result<(), TargetError> {
    let bytes = text.as_bytes();
    for (i, byte) in bytes.iter().enumerate() {
        if *byte == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(TargetError::BadPercentEncoding(text.to_owned()));
        }
    }
    Ok(())
}

/// Splits `http(s)://host[:port]/rest` into (host, rest), where `rest` starts with `/` (or is empty).
fn split_scheme_host(text: &str) -> Result<(&str, &str), TargetError> {
    let after_scheme = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .or_else(|| {
            let lower = text.get(..8)?.to_ascii_lowercase();
            if lower.starts_with("http://") {
                text.get(7..)
            } else if lower == "https://" {
                text.get(8..)
            } else {
                None
            }
        })
        .ok_or_else(|| TargetError::NotHttpUrl(text.to_owned()))?;
    let end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let (authority, rest) = after_scheme.split_at(end);
    if authority.contains('@') {
        return Err(TargetError::NotHttpUrl(text.to_owned()));
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return Err(TargetError::InvalidHost(authority.to_owned())),
        None => authority,
    };
    Ok((host, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in TargetKind::ALL {
            assert_eq!(TargetKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TargetKind::parse("URL"), None);
    }

    #[test]
    fn parse_dispatches_by_kind() {
        let target =
            Target::parse(TargetKind::Regex, " http://www.abc.com/test/.*\\.txt ").unwrap();
        assert_eq!(target.kind(), TargetKind::Regex);
        assert_eq!(target.as_str(), "http://www.abc.com/test/.*\\.txt");
        assert_eq!(target.host(), "www.abc.com");
    }

    #[test]
    fn split_keeps_the_port_out_of_the_host() {
        assert_eq!(
            split_scheme_host("http://a.com:8080/x").unwrap(),
            ("a.com:8080".split(':').next().unwrap(), "/x")
        );
        assert!(split_scheme_host("ftp://a.com/x").is_err());
        assert!(split_scheme_host("http://user@a.com/x").is_err());
        assert!(split_scheme_host("http://a.com:port/x").is_err());
    }
}
