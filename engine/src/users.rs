//! Users, their roles and their quota limits.

use serde::{Deserialize, Serialize};

use crate::target::TargetKind;

/// A user's database id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserId(pub i64);

/// What a user may do in the dashboard and the admin API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages users, keys, quotas, domains and the fleet.
    Admin,
    /// Purges their own domains.
    Developer,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Role::Admin),
            "developer" => Some(Role::Developer),
            _ => None,
        }
    }
}

/// Daily limits per kind and the most targets one request may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuotaLimits {
    /// Exact URLs per day.
    pub url: u32,
    /// Prefixes per day.
    pub prefix: u32,
    /// Regexes per day.
    pub regex: u32,
    /// Cache tags per day.
    pub tag: u32,
    /// Everything-on-a-domain purges per day.
    pub everything: u32,
    /// Prefetched URLs per day.
    pub prefetch: u32,
    /// Targets per request.
    pub batch: u32,
}

impl Default for QuotaLimits {
    fn default() -> Self {
        Self {
            url: 10_000,
            prefix: 100,
            regex: 500,
            tag: 1_000,
            everything: 10,
            prefetch: 1_000,
            batch: 500,
        }
    }
}

impl QuotaLimits {
    /// The daily limit for `kind`.
    pub fn daily(&self, kind: TargetKind) -> u32 {
        match kind {
            TargetKind::Url => self.url,
            TargetKind::Prefix => self.prefix,
            TargetKind::Regex => self.regex,
            TargetKind::Tag => self.tag,
            TargetKind::Everything => self.everything,
            TargetKind::Prefetch => self.prefetch,
        }
    }
}

/// Per-user overrides of the default limits; `None` keeps the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaOverrides {
    /// Exact URLs per day.
    pub url: Option<u32>,
    /// Prefixes per day.
    pub prefix: Option<u32>,
    /// Regexes per day.
    pub regex: Option<u32>,
    /// Cache tags per day.
    #[serde(default)]
    pub tag: Option<u32>,
    /// Everything-on-a-domain purges per day.
    #[serde(default)]
    pub everything: Option<u32>,
    /// Prefetched URLs per day.
    #[serde(default)]
    pub prefetch: Option<u32>,
    /// Targets per request.
    pub batch: Option<u32>,
}

impl QuotaOverrides {
    /// These overrides, and `current`'s where these have none.
    pub fn or(self, current: QuotaOverrides) -> QuotaOverrides {
        QuotaOverrides {
            url: self.url.or(current.url),
            prefix: self.prefix.or(current.prefix),
            regex: self.regex.or(current.regex),
            tag: self.tag.or(current.tag),
            everything: self.everything.or(current.everything),
            prefetch: self.prefetch.or(current.prefetch),
            batch: self.batch.or(current.batch),
        }
    }

    /// The limits in force, given the defaults.
    pub fn resolve(&self, defaults: &QuotaLimits) -> QuotaLimits {
        QuotaLimits {
            url: self.url.unwrap_or(defaults.url),
            prefix: self.prefix.unwrap_or(defaults.prefix),
            regex: self.regex.unwrap_or(defaults.regex),
            tag: self.tag.unwrap_or(defaults.tag),
            everything: self.everything.unwrap_or(defaults.everything),
            prefetch: self.prefetch.unwrap_or(defaults.prefetch),
            batch: self.batch.unwrap_or(defaults.batch),
        }
    }
}

/// A stored user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Database id.
    pub id: UserId,
    /// Unique login name (the seed-004 Basic user name).
    pub username: String,
    /// Admin or developer.
    pub role: Role,
    /// A disabled user can neither sign in nor use keys.
    pub enabled: bool,
    /// Whether the user may submit purges at all.
    pub can_purge: bool,
    /// Preferred time zone for the dashboard.
    pub time_zone: String,
    /// The dashboard language the user chose (`zh-CN`, `en`); `None`: the browser's.
    pub locale: Option<String>,
    /// Per-user quota overrides.
    pub quota: QuotaOverrides,
}

impl User {
    /// Whether this is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whose tasks and batches this user may see: `None` for everyone's (admins), else
    /// `Some(own id)`. The one rule behind every task view, list and retry.
    pub fn task_scope(&self) -> Option<UserId> {
        (!self.is_admin()).then_some(self.id)
    }
}

/// What is needed to create a user.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Unique login name.
    pub username: String,
    /// Admin or developer.
    pub role: Role,
    /// argon2id hash of the dashboard password, if the user has one.
    pub password_hash: Option<String>,
}

/// The longest user name, in bytes (they are ASCII).
pub const MAX_USERNAME_LEN: usize = 64;

/// A user name is 1 to 64 characters of letters, digits, `.`, `_`, `-` and `@`.
pub fn valid_username(name: &str) -> bool {
    (1..=MAX_USERNAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_fall_back_to_defaults() {
        let limits = QuotaOverrides {
            regex: Some(2),
            ..Default::default()
        }
        .resolve(&QuotaLimits::default());
        assert_eq!(limits.daily(TargetKind::Regex), 2);
        assert_eq!(limits.daily(TargetKind::Url), 10_000);
        assert_eq!(limits.batch, 500);
    }

    #[test]
    fn user_names_are_restricted() {
        assert!(valid_username("alice"));
        assert!(valid_username("ops@example.com"));
        assert!(!valid_username(""));
        assert!(!valid_username("a:b"));
        assert!(!valid_username("a b"));
        assert!(!valid_username(&"a".repeat(65)));
    }
}
