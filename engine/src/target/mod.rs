//! Purge targets, parsed once at the boundary: exact URLs, URL prefixes, URL regexes, cache
//! tags and whole domains.

mod domain;
mod mode;
mod prefix;
mod regex;
mod tag;
mod url;

pub use self::domain::DomainName;
pub use self::mode::PurgeMode;
pub use self::prefix::UrlPrefix;
pub use self::regex::UrlRegex;
pub use self::tag::{CacheTag, WholeHost, MAX_TAG_LEN};
pub use self::url::PurgeUrl;

use serde::{Deserialize, Serialize};

/// The longest target accepted, in characters.
pub const MAX_TARGET_LEN: usize = 2000;

/// The kinds of purge target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// One exact URL.
    Url,
    /// Every URL under a path.
    Prefix,
    /// Every URL whose path matches a regex.
    Regex,
    /// Every object of a host carrying a cache tag.
    Tag,
    /// Every object of a host.
    Everything,
    /// One exact URL fetched through every edge, so that the first visitor gets a HIT.
    Prefetch,
}

impl TargetKind {
    /// All kinds, in display order.
    pub const ALL: [TargetKind; 6] = [
        TargetKind::Url,
        TargetKind::Prefix,
        TargetKind::Regex,
        TargetKind::Tag,
        TargetKind::Everything,
        TargetKind::Prefetch,
    ];

    /// The kinds written as URLs (the host is part of the target), which the seed APIs know.
    pub const URL_KINDS: [TargetKind; 3] = [TargetKind::Url, TargetKind::Prefix, TargetKind::Regex];

    /// The lowercase name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Url => "url",
            TargetKind::Prefix => "prefix",
            TargetKind::Regex => "regex",
            TargetKind::Tag => "tag",
            TargetKind::Everything => "everything",
            TargetKind::Prefetch => "prefetch",
        }
    }

    /// Whether tasks of this kind purge (all but prefetches, which fetch).
    pub fn is_purge(self) -> bool {
        self != TargetKind::Prefetch
    }

    /// Whether targets of this kind name their host apart (tags, everything) instead of in a URL.
    pub fn needs_host(self) -> bool {
        matches!(self, TargetKind::Tag | TargetKind::Everything)
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
    /// Not 1 to 128 visible ASCII characters without commas.
    #[error("invalid cache tag {0:?}: 1 to 128 visible ASCII characters without spaces or commas")]
    InvalidTag(String),
    /// A tag or everything target without the domain it is on.
    #[error("a domain is required with tags and everything")]
    NeedsDomain,
    /// An everything target is written `*`.
    #[error("an everything target is written *")]
    NotEverything,
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
    /// A cache tag of a host.
    Tag(CacheTag),
    /// Every object of a host.
    Everything(WholeHost),
    /// An exact URL to fetch through the edges.
    Prefetch(PurgeUrl),
}

impl Target {
    /// Parses `text` as a target of a URL kind (tags and everything need their host: see
    /// [`Target::parse_on`]).
    pub fn parse(kind: TargetKind, text: &str) -> Result<Self, TargetError> {
        Self::parse_on(kind, text, None)
    }

    /// Parses `text` as a target of `kind`; `host` is the domain a tag or everything target is
    /// on (URL kinds carry their host and ignore it).
    pub fn parse_on(kind: TargetKind, text: &str, host: Option<&str>) -> Result<Self, TargetError> {
        Ok(match kind {
            TargetKind::Url => Target::Url(PurgeUrl::parse(text)?),
            TargetKind::Prefetch => Target::Prefetch(PurgeUrl::parse(text)?),
            TargetKind::Prefix => Target::Prefix(UrlPrefix::parse(text)?),
            TargetKind::Regex => Target::Regex(UrlRegex::parse(text)?),
            TargetKind::Tag => Target::Tag(CacheTag::parse(
                host.ok_or(TargetError::NeedsDomain)?,
                text,
            )?),
            TargetKind::Everything => {
                if text.trim() != WholeHost::TARGET {
                    return Err(TargetError::NotEverything);
                }
                Target::Everything(WholeHost::parse(host.ok_or(TargetError::NeedsDomain)?)?)
            }
        })
    }

    /// The kind of this target.
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Url(_) => TargetKind::Url,
            Target::Prefix(_) => TargetKind::Prefix,
            Target::Regex(_) => TargetKind::Regex,
            Target::Tag(_) => TargetKind::Tag,
            Target::Everything(_) => TargetKind::Everything,
            Target::Prefetch(_) => TargetKind::Prefetch,
        }
    }

    /// The target as the client wrote it (trimmed).
    pub fn as_str(&self) -> &str {
        match self {
            Target::Url(url) | Target::Prefetch(url) => url.as_str(),
            Target::Prefix(prefix) => prefix.as_str(),
            Target::Regex(regex) => regex.as_str(),
            Target::Tag(tag) => tag.as_str(),
            Target::Everything(_) => WholeHost::TARGET,
        }
    }

    /// The host whose cache the target purges (lowercase).
    pub fn host(&self) -> &str {
        match self {
            Target::Url(url) | Target::Prefetch(url) => url.host(),
            Target::Prefix(prefix) => prefix.host(),
            Target::Regex(regex) => regex.host(),
            Target::Tag(tag) => tag.host(),
            Target::Everything(whole) => whole.host(),
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
    fn tags_and_everything_are_parsed_on_their_host() {
        let tag = Target::parse_on(TargetKind::Tag, "product-42", Some("www.a.example")).unwrap();
        assert_eq!(
            (tag.kind(), tag.as_str(), tag.host()),
            (TargetKind::Tag, "product-42", "www.a.example")
        );
        assert_eq!(
            Target::parse(TargetKind::Tag, "product-42"),
            Err(TargetError::NeedsDomain)
        );
        let all = Target::parse_on(TargetKind::Everything, "*", Some("www.a.example")).unwrap();
        assert_eq!((all.as_str(), all.host()), ("*", "www.a.example"));
        assert_eq!(
            Target::parse_on(TargetKind::Everything, "/x", Some("www.a.example")),
            Err(TargetError::NotEverything)
        );
        assert!(TargetKind::Tag.needs_host() && !TargetKind::Url.needs_host());
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
