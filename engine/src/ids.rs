//! Identifiers of batches and tasks: 32 lowercase hex characters, like the seed's `itemId`.

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
            /// A new random id.
            pub fn generate() -> Self {
                let mut bytes = [0u8; 16];
                rand::thread_rng().fill_bytes(&mut bytes);
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
    fn parse_refuses_other_text() {
        assert!(BatchId::parse("64ec364dd81d4052a3534c1e86167950").is_some());
        assert!(BatchId::parse("64EC364DD81D4052A3534C1E86167950").is_none());
        assert!(BatchId::parse("64ec364dd81d4052a3534c1e8616795").is_none());
        assert!(BatchId::parse("64ec364dd81d4052a3534c1e8616795g").is_none());
    }
}
