//! Delete or invalidate: what a purge does to the objects it matches.

use serde::{Deserialize, Serialize};

/// What a purge does to the objects it matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PurgeMode {
    /// Remove them: the next request fetches from the origin.
    #[default]
    Delete,
    /// Mark them stale: the edge serves the old copy while it fetches the new one (where it
    /// supports it), so a purge does not send every client to the origin at once.
    Invalidate,
}

impl PurgeMode {
    /// The lowercase name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            PurgeMode::Delete => "delete",
            PurgeMode::Invalidate => "invalidate",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "delete" => Some(PurgeMode::Delete),
            "invalidate" => Some(PurgeMode::Invalidate),
            _ => None,
        }
    }
}

impl std::fmt::Display for PurgeMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_through_their_names() {
        for mode in [PurgeMode::Delete, PurgeMode::Invalidate] {
            assert_eq!(PurgeMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(PurgeMode::parse("soft"), None);
        assert_eq!(PurgeMode::default(), PurgeMode::Delete);
    }
}
