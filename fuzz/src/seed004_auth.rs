//! Fuzzes seed 004's request authentication (`engine::seed004`): `Credentials::parse` on the
//! `Authorization` header and `date_is_fresh` on the `Date` header, on arbitrary text (invalid
//! UTF-8 replaced lossily).
//!
//! Besides "nothing panics" (for any date and any skew, up to `u64::MAX`), it checks:
//! - accepted credentials come from a `Basic `/`basic ` header, have a non-empty user name without
//!   `:`, and `Basic base64(username ":" signature)` parses back to the same credentials;
//! - conversely, any non-empty user name without `:` and any signature, encoded that way, parse
//!   back to themselves (the input is split at its first newline into name and signature);
//! - with skew `u64::MAX` a date is fresh exactly when chrono parses it as RFC 2822 (trimmed);
//! - freshness is monotonic in the skew, and its boundary is the date's distance from `now` in
//!   whole seconds: fresh at that skew, stale one second below it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use engine::seed004::{date_is_fresh, Credentials};

/// The server clock of every run (Wed, 18 Nov 2026 11:06:40 UTC), so that results are reproducible.
const NOW: i64 = 1_795_000_000;

/// Checks the properties above on one input (what libFuzzer calls with each generated input).
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    check_credentials(text);
    check_date(text);
}

fn basic(username: &str, signature: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{signature}"))
    )
}

fn check_credentials(header: &str) {
    if let Some(credentials) = Credentials::parse(header) {
        assert!(
            header.starts_with("Basic ") || header.starts_with("basic "),
            "{header:?} is not Basic auth"
        );
        assert!(
            !credentials.username.is_empty(),
            "empty user name from {header:?}"
        );
        assert!(
            !credentials.username.contains(':'),
            "user name {:?} from {header:?} contains ':'",
            credentials.username
        );
        let again = basic(&credentials.username, &credentials.signature);
        assert_eq!(
            Credentials::parse(&again).as_ref(),
            Some(&credentials),
            "{again:?}"
        );
        let lower = again.replacen("Basic ", "basic ", 1);
        assert_eq!(
            Credentials::parse(&lower).as_ref(),
            Some(&credentials),
            "{lower:?}"
        );
    }

    // Any well-formed pair round-trips: the input's first line is the user, the rest the signature.
    let (username, signature) = header.split_once('\n').unwrap_or((header, ""));
    let expected = (!username.is_empty() && !username.contains(':')).then(|| Credentials {
        username: username.to_owned(),
        signature: signature.to_owned(),
    });
    let encoded = basic(username, signature);
    match expected {
        Some(expected) => assert_eq!(Credentials::parse(&encoded), Some(expected), "{encoded:?}"),
        // A ':' in the name moves the split; only an empty name must be refused.
        None if username.starts_with(':') || username.is_empty() => {
            assert_eq!(Credentials::parse(&encoded), None, "{encoded:?}")
        }
        None => {}
    }
}

fn check_date(date: &str) {
    let now = DateTime::from_timestamp(NOW, 0).expect("NOW is in chrono's range");
    let parsed = DateTime::parse_from_rfc2822(date.trim());
    assert_eq!(
        date_is_fresh(date, now, u64::MAX),
        parsed.is_ok(),
        "{date:?} with the largest skew: chrono says {parsed:?}"
    );

    // Monotonic in the skew, for a spread of skews (one derived from the input).
    let derived = date
        .bytes()
        .fold(0u64, |acc, b| acc.rotate_left(7) ^ u64::from(b));
    let mut skews = [
        0,
        1,
        59,
        900,
        86_400,
        i64::MAX as u64,
        u64::MAX - 1,
        u64::MAX,
        derived,
    ];
    skews.sort_unstable();
    let fresh: Vec<bool> = skews
        .iter()
        .map(|&skew| date_is_fresh(date, now, skew))
        .collect();
    assert!(
        fresh.windows(2).all(|pair| pair[0] <= pair[1]),
        "{date:?}: freshness not monotonic in the skew: {:?}",
        skews.iter().zip(&fresh).collect::<Vec<_>>()
    );

    match parsed {
        Ok(signed_at) => {
            let distance = (now - signed_at.with_timezone(&Utc))
                .num_seconds()
                .unsigned_abs();
            assert!(
                date_is_fresh(date, now, distance),
                "{date:?} at skew {distance}"
            );
            if distance > 0 {
                assert!(
                    !date_is_fresh(date, now, distance - 1),
                    "{date:?} at skew {distance} - 1"
                );
            }
        }
        Err(_) => assert!(fresh.iter().all(|f| !f), "unparsable {date:?} is fresh"),
    }
}
