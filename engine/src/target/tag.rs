//! Cache tags (surrogate keys) and whole domains: targets that name a host instead of a URL.

use super::{DomainName, TargetError};

/// The longest cache tag, in characters.
pub const MAX_TAG_LEN: usize = 128;

/// A cache tag of one host: every object that host's origin tagged with it.
///
/// A tag is 1 to 128 visible ASCII characters without commas (the separators of the
/// `Surrogate-Key` and `xkey` headers). It belongs to its host: edges store an object's tags with
/// the object's host, so that two tenants sharing an edge never purge each other's objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheTag {
    host: String,
    tag: String,
}

impl CacheTag {
    /// Parses `tag` (trimmed) as a tag of `host`.
    pub fn parse(host: &str, tag: &str) -> Result<Self, TargetError> {
        let tag = tag.trim();
        let valid = !tag.is_empty()
            && tag.len() <= MAX_TAG_LEN
            && tag.bytes().all(|b| b.is_ascii_graphic() && b != b',');
        if !valid {
            return Err(TargetError::InvalidTag(
                tag.chars().take(MAX_TAG_LEN).collect(),
            ));
        }
        Ok(Self {
            host: parse_host(host)?,
            tag: tag.to_owned(),
        })
    }

    /// The tag as sent.
    pub fn as_str(&self) -> &str {
        &self.tag
    }

    /// The lowercase host whose objects carry the tag.
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// Every cached object of one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WholeHost {
    host: String,
}

impl WholeHost {
    /// What an everything task stores and shows as its target.
    pub const TARGET: &'static str = "*";

    /// Parses `host` (a host name, not a wildcard).
    pub fn parse(host: &str) -> Result<Self, TargetError> {
        Ok(Self {
            host: parse_host(host)?,
        })
    }

    /// The lowercase host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The anchored path regex that matches every object of the host, for edges that ban.
    pub fn edge_pattern(&self) -> &'static str {
        ".*"
    }
}

/// A plain host name (lowercase, no wildcard, no port).
fn parse_host(host: &str) -> Result<String, TargetError> {
    let name = DomainName::parse(host)?;
    if name.is_wildcard() {
        return Err(TargetError::InvalidHost(host.to_owned()));
    }
    Ok(name.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_visible_ascii_without_commas() {
        let tag = CacheTag::parse("WWW.A.example", " product-42 ").unwrap();
        assert_eq!((tag.host(), tag.as_str()), ("www.a.example", "product-42"));
        assert!(CacheTag::parse("a.example", "a:b/c?d=1&e_f").is_ok());
        for bad in ["", "two words", "a,b", "é", "tab\there", &"x".repeat(129)] {
            assert!(
                matches!(
                    CacheTag::parse("a.example", bad),
                    Err(TargetError::InvalidTag(_))
                ),
                "{bad:?}"
            );
        }
        assert!(CacheTag::parse("a.example", &"x".repeat(128)).is_ok());
    }

    #[test]
    fn tags_and_whole_hosts_need_a_plain_host() {
        assert!(matches!(
            CacheTag::parse("*.a.example", "t"),
            Err(TargetError::InvalidHost(_))
        ));
        assert!(matches!(
            WholeHost::parse("a b"),
            Err(TargetError::InvalidHost(_))
        ));
        assert_eq!(WholeHost::parse("A.example.").unwrap().host(), "a.example");
    }
}
