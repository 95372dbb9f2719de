//! Seed 004's request authentication, as pure functions of the header values:
//! `Authorization: Basic base64(username ":" base64(HMAC-SHA1(key, Date)))` and an RFC 2822
//! `Date` that must be close to the server clock.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};

/// The username and signature carried by a seed-004 `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (never empty).
    pub username: String,
    /// The signature, as sent (base64 of the HMAC-SHA1 of the `Date`).
    pub signature: String,
}

impl Credentials {
    /// Reads `Basic <base64 of "username:signature">`; `None` for anything else.
    pub fn parse(header: &str) -> Option<Self> {
        let encoded = header
            .strip_prefix("Basic ")
            .or_else(|| header.strip_prefix("basic "))?;
        let decoded = STANDARD.decode(encoded.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (username, signature) = text.split_once(':')?;
        (!username.is_empty()).then(|| Self {
            username: username.to_owned(),
            signature: signature.to_owned(),
        })
    }
}

/// Whether `date` is an RFC 2822 date within `max_skew_secs` of `now`, either way.
pub fn date_is_fresh(date: &str, now: DateTime<Utc>, max_skew_secs: u64) -> bool {
    DateTime::parse_from_rfc2822(date.trim()).is_ok_and(|signed_at| {
        (now - signed_at.with_timezone(&Utc))
            .num_seconds()
            .unsigned_abs()
            <= max_skew_secs
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(text: &str) -> String {
        format!("Basic {}", STANDARD.encode(text))
    }

    #[test]
    fn credentials_are_read_from_basic_auth() {
        assert_eq!(
            Credentials::parse(&basic("alice:c2ln")),
            Some(Credentials {
                username: "alice".into(),
                signature: "c2ln".into()
            })
        );
        // The signature itself may contain colons after the first one.
        assert_eq!(
            Credentials::parse(&basic("bob:a:b")).map(|c| c.signature),
            Some("a:b".into())
        );
        for bad in [
            "",
            "Basic",
            "Basic !!!",
            "Bearer abc",
            &basic(":sig"),
            &basic("nocolon"),
            &format!("Basic {}", STANDARD.encode([0xff, 0xfe, b':', b'x'])),
        ] {
            assert_eq!(Credentials::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dates_must_parse_and_be_close_to_the_clock() {
        let now = DateTime::parse_from_rfc2822("Mon, 23 Nov 2026 08:00:00 GMT")
            .unwrap()
            .with_timezone(&Utc);
        assert!(date_is_fresh("Mon, 23 Nov 2026 08:10:00 GMT", now, 900));
        assert!(date_is_fresh("Mon, 23 Nov 2026 07:45:00 GMT", now, 900));
        assert!(!date_is_fresh("Mon, 23 Nov 2026 07:44:59 GMT", now, 900));
        assert!(!date_is_fresh("Mon, 23 Nov 2026 08:15:01 GMT", now, 900));
        assert!(!date_is_fresh("yesterday", now, 900));
        assert!(!date_is_fresh("", now, 900));
    }
}
