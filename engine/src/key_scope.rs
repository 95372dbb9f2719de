//! What an API key may do within its user's rights: some of the user's domains, some purge
//! kinds, or only read (Cloudflare's per-zone purge tokens are what users compare this with).
//! A key without limits may do everything its user may.

use serde::{Deserialize, Serialize};

use crate::target::{DomainName, TargetKind};
use crate::tasks::TaskRecord;
use crate::users::UserId;

/// The limits of one API key; the default limits nothing. Fixed when the key is created.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyScope {
    /// Only these of the user's domains, as registered (`www.example.com`, `*.example.com`);
    /// `None`: every domain of the user.
    pub domains: Option<Vec<String>>,
    /// Only these purge kinds (`prefetch` included); `None`: every kind.
    pub kinds: Option<Vec<TargetKind>>,
    /// Status and history only: no purge, prefetch, retry or admin change.
    pub read_only: bool,
}

/// Why limits are refused when a key is created.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyScopeError {
    /// An empty list would allow nothing: leave the limit out instead.
    #[error(
        "a key limited to no {0} could never purge: leave the limit out, or make it read-only"
    )]
    EmptyList(&'static str),
    /// A domain that does not parse.
    #[error("{0:?} is not a domain name")]
    BadDomain(String),
    /// A domain the key's user does not have.
    #[error("{0} is not one of the user's domains")]
    NotTheUsersDomain(String),
}

impl KeyScope {
    /// These limits checked and normalised for a key of a user who has `user_domains`: every
    /// domain named must be one of them (lowercased, duplicates dropped), kinds in display
    /// order, and no list empty (a key limited to nothing could never purge).
    pub fn checked(self, user_domains: &[DomainName]) -> Result<Self, KeyScopeError> {
        let domains = self
            .domains
            .map(|hosts| {
                if hosts.is_empty() {
                    return Err(KeyScopeError::EmptyList("domain"));
                }
                let mut names = Vec::with_capacity(hosts.len());
                for host in hosts {
                    let name =
                        DomainName::parse(&host).map_err(|_| KeyScopeError::BadDomain(host))?;
                    if !user_domains.contains(&name) {
                        return Err(KeyScopeError::NotTheUsersDomain(name.as_str().to_owned()));
                    }
                    names.push(name.as_str().to_owned());
                }
                names.sort();
                names.dedup();
                Ok(names)
            })
            .transpose()?;
        let kinds = self
            .kinds
            .map(|mut kinds| {
                if kinds.is_empty() {
                    return Err(KeyScopeError::EmptyList("purge kind"));
                }
                kinds.sort();
                kinds.dedup();
                Ok(kinds)
            })
            .transpose()?;
        Ok(Self {
            domains,
            kinds,
            read_only: self.read_only,
        })
    }

    /// True when the key may do everything its user may.
    pub fn is_unlimited(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the key may submit targets of `kind` (read-only keys may submit none).
    pub fn allows_kind(&self, kind: TargetKind) -> bool {
        !self.read_only
            && self
                .kinds
                .as_ref()
                .is_none_or(|kinds| kinds.contains(&kind))
    }

    /// Whether the key reaches the registered domain `domain`.
    pub fn allows_domain(&self, domain: &DomainName) -> bool {
        self.domains
            .as_ref()
            .is_none_or(|hosts| hosts.iter().any(|host| host == domain.as_str()))
    }

    /// Whether the key may change anything (purge, prefetch, retry, admin writes).
    pub fn may_write(&self) -> bool {
        !self.read_only
    }

    /// One line for people: `all domains, all kinds` or `domains a, b; kinds url; read-only`.
    pub fn describe(&self) -> String {
        if self.read_only {
            return match &self.domains {
                Some(hosts) => format!("read-only; domains {}", hosts.join(", ")),
                None => "read-only".to_owned(),
            };
        }
        let domains = match &self.domains {
            Some(hosts) => format!("domains {}", hosts.join(", ")),
            None => "all domains".to_owned(),
        };
        let kinds = match &self.kinds {
            Some(kinds) => format!(
                "kinds {}",
                kinds
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "all kinds".to_owned(),
        };
        format!("{domains}; {kinds}")
    }

    /// The stored form: `None` for a key without limits, else JSON.
    pub fn to_stored(&self) -> Option<String> {
        (!self.is_unlimited()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    /// From the stored form.
    pub fn from_stored(stored: Option<&str>) -> Result<Self, serde_json::Error> {
        stored.map_or(Ok(Self::default()), serde_json::from_str)
    }
}

/// Whose tasks a reader sees: a user's own (everyone's for admins and the CLI), and with a key
/// limited to some domains, only the tasks on those.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Viewer {
    /// Only this user's tasks; `None`: everyone's.
    pub user: Option<UserId>,
    /// Only tasks on these domain ids; `None`: every domain.
    pub domains: Option<Vec<i64>>,
}

impl Viewer {
    /// Whether this reader may see `task`.
    pub fn sees(&self, task: &TaskRecord) -> bool {
        self.user.is_none_or(|user| user == task.user_id)
            && self
                .domains
                .as_ref()
                .is_none_or(|domains| domains.contains(&task.domain_id))
    }
}

impl From<Option<UserId>> for Viewer {
    /// A reader limited to one user's tasks (or none), on every domain.
    fn from(user: Option<UserId>) -> Self {
        Self {
            user,
            domains: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn user_domains() -> Vec<DomainName> {
        ["www.example.com", "*.example.org"]
            .iter()
            .map(|h| DomainName::parse(h).unwrap())
            .collect()
    }

    #[test]
    fn limits_are_normalised_and_checked_against_the_users_domains() {
        let limited = |domains: Option<&[&str]>, kinds: Option<Vec<TargetKind>>| KeyScope {
            domains: domains.map(owned),
            kinds,
            read_only: false,
        };
        let scope = limited(
            Some(&["WWW.example.com", "www.example.com"]),
            Some(vec![TargetKind::Regex, TargetKind::Url, TargetKind::Url]),
        )
        .checked(&user_domains())
        .unwrap();
        assert_eq!(scope.domains, Some(owned(&["www.example.com"])));
        assert_eq!(scope.kinds, Some(vec![TargetKind::Url, TargetKind::Regex]));
        assert_eq!(
            limited(Some(&["other.com"]), None).checked(&user_domains()),
            Err(KeyScopeError::NotTheUsersDomain("other.com".into()))
        );
        assert_eq!(
            limited(Some(&["not a host"]), None).checked(&user_domains()),
            Err(KeyScopeError::BadDomain("not a host".into()))
        );
        assert_eq!(
            limited(Some(&[]), None).checked(&user_domains()),
            Err(KeyScopeError::EmptyList("domain"))
        );
        assert_eq!(
            limited(None, Some(Vec::new())).checked(&user_domains()),
            Err(KeyScopeError::EmptyList("purge kind"))
        );
    }

    #[test]
    fn a_read_only_key_allows_no_kind_and_an_unlimited_one_every_kind() {
        let read_only = KeyScope {
            read_only: true,
            ..KeyScope::default()
        };
        let unlimited = KeyScope::default();
        for kind in TargetKind::ALL {
            assert!(!read_only.allows_kind(kind));
            assert!(unlimited.allows_kind(kind));
        }
        assert!(!read_only.may_write());
        assert!(unlimited.is_unlimited());
        assert_eq!(unlimited.to_stored(), None);
    }

    #[test]
    fn domains_are_matched_as_registered_and_survive_storage() {
        let scope = KeyScope {
            domains: Some(owned(&["*.example.org"])),
            kinds: Some(vec![TargetKind::Url]),
            read_only: false,
        };
        let wildcard = DomainName::parse("*.example.org").unwrap();
        let other = DomainName::parse("www.example.com").unwrap();
        assert!(scope.allows_domain(&wildcard));
        assert!(!scope.allows_domain(&other));
        assert!(scope.allows_kind(TargetKind::Url));
        assert!(!scope.allows_kind(TargetKind::Prefix));
        let stored = scope.to_stored().unwrap();
        assert_eq!(KeyScope::from_stored(Some(&stored)).unwrap(), scope);
        assert_eq!(scope.describe(), "domains *.example.org; kinds url");
    }
}
