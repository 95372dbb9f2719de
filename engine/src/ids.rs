//! Identifiers of batches and tasks: 32 lowercase hex characters, like the seed's `itemId`.
//!
//! A new id starts with the milliseconds since 1970 (12 hex characters) and ends with 80 random
//! bits: ids made one after the other sort in that order, so the database inserts each at the
//! end of its index instead of at a random page (a write-ahead log page less per row), and no
//! id can be guessed from another.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A new id: the time now, then random bits.
            pub fn generate() -> Self {
                let mut bytes = [0u8; 16];
                let millis = chrono::Utc::now().timestamp_millis().max(0) as u64;
                bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
                rand::thread_rng().fill_bytes(&mut bytes[6..]);
                Self(hex::encode(bytes))
            }

            /// Parses 32 lowercase hex characters.
            pub fn parse(text: &str) -> Option<Self> {
                let valid = text.len() == 32
                    && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                valid.then(|| Self(text.to_owned()))
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value).ok_or_else(|| format!("not a 32-character hex id: {value:?}"))
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

hex_id!(
    /// The id of one submission (the seed's `itemId`).
    BatchId
);
hex_id!(
    /// The id of one purge task.
    TaskId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_32_lowercase_hex_and_distinct() {
        let a = TaskId::generate();
        let b = TaskId::generate();
        assert_ne!(a, b);
        assert_eq!(TaskId::parse(a.as_str()), Some(a));
        assert!(BatchId::parse(BatchId::generate().as_str()).is_some());
    }

    #[test]
    fn ids_made_later_sort_later() {
        let first = TaskId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = TaskId::generate();
        assert!(first < later, "{first} then {later}");
        let millis = u64::from_str_radix(&later.as_str()[..12], 16).expect("hex");
        let now = chrono::Utc::now().timestamp_millis() as u64;
        assert!(
            now - millis < 60_000,
            "the id starts with the time it was made"
        );
    }

    #[test]
    fn parse_refuses_other_text() {
        assert!(BatchId::parse("64ec364dd81d4052a3534c1e86167950").is_some());
        assert!(BatchId::parse("64EC364DD81D4052A3534C1E86167950").is_none());
        assert!(BatchId::parse("64ec364dd81d4052a3534c1e8616795").is_none());
        assert!(BatchId::parse("64ec364dd81d4052a3534c1e8616795g").is_none());
    }
}
