//! Time zones and the formats the seed APIs print.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Offset, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A caller's time zone: a fixed offset (`+09:00`, `GMT+09:00`) or an IANA name (`Asia/Tokyo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Zone {
    text: String,
    kind: ZoneKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ZoneKind {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

/// The text is neither an offset nor a known IANA zone name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0:?} (use +08:00, GMT+08:00 or an IANA name such as Asia/Shanghai)")]
pub struct ZoneError(pub String);

impl Zone {
    /// Parses `+09:00`, `GMT+09:00`, `UTC`, `-0330` or an IANA name.
    pub fn parse(text: &str) -> Result<Self, ZoneError> {
        let trimmed = text.trim();
        let error = || ZoneError(text.to_owned());
        if trimmed.is_empty() {
            return Err(error());
        }
        let offset_text = trimmed
            .strip_prefix("GMT")
            .or_else(|| trimmed.strip_prefix("UTC"))
            .unwrap_or(trimmed);
        let kind = if offset_text.is_empty() {
            ZoneKind::Fixed(FixedOffset::east_opt(0).ok_or_else(error)?)
        } else if offset_text.starts_with(['+', '-']) {
            ZoneKind::Fixed(parse_offset(offset_text).ok_or_else(error)?)
        } else {
            ZoneKind::Named(trimmed.parse::<chrono_tz::Tz>().map_err(|_| error())?)
        };
        Ok(Self {
            text: trimmed.to_owned(),
            kind,
        })
    }

    /// The offset from UTC in force at `at`.
    pub fn offset_at(&self, at: DateTime<Utc>) -> FixedOffset {
        match &self.kind {
            ZoneKind::Fixed(offset) => *offset,
            ZoneKind::Named(tz) => tz.offset_from_utc_datetime(&at.naive_utc()).fix(),
        }
    }

    /// `at` in this zone.
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<FixedOffset> {
        at.with_timezone(&self.offset_at(at))
    }

    /// The text the zone was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl TryFrom<String> for Zone {
    type Error = ZoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Zone> for String {
    fn from(value: Zone) -> Self {
        value.text
    }
}

impl Default for Zone {
    /// `+08:00`, the zone of the seed systems.
    fn default() -> Self {
        Self::parse("+08:00").expect("a valid offset")
    }
}

/// Every IANA zone name [`Zone::parse`] knows (besides `UTC`, `GMT` and offsets).
pub fn zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// The offsets [`Zone::parse`] takes, as a regular expression: `UTC` or `GMT`, or either (or
/// neither) before `+`/`-` and one hour digit, or two (at most 14) with optional minutes as
/// `hh:mm` or `hhmm`.
pub const ZONE_OFFSET_PATTERN: &str =
    r"^\s*(UTC|GMT|(UTC|GMT)?[+-]([0-9]|(0[0-9]|1[0-4])(:?[0-5][0-9])?))\s*$";

fn parse_offset(text: &str) -> Option<FixedOffset> {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits: String = text[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// The quota day containing `at`: the calendar day of the service zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaDay {
    /// The calendar date in the service zone (the storage key).
    pub date: NaiveDate,
    /// The first instant of the day.
    pub start: DateTime<Utc>,
    /// The first instant of the next day.
    pub end: DateTime<Utc>,
}

impl QuotaDay {
    /// The service-zone day that contains `at`.
    pub fn containing(at: DateTime<Utc>, service_zone: &Zone) -> Self {
        let date = service_zone.local(at).date_naive();
        let start_local = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        let start = service_zone
            .offset_at(at)
            .from_local_datetime(&start_local)
            .single()
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or(at);
        Self {
            date,
            start,
            end: start + Duration::days(1),
        }
    }

    /// The storage key, `YYYY-MM-DD`.
    pub fn key(&self) -> String {
        self.date.format("%Y-%m-%d").to_string()
    }

    /// The window as the seed prints it in `zone`:
    /// `2018-10-17 01:00:00GMT+09:00~2018-10-18 00:59:59GMT+09:00`.
    pub fn window_in(&self, zone: &Zone) -> String {
        let last = self.end - Duration::seconds(1);
        format!(
            "{}~{}",
            seed_zone_time(self.start, zone),
            seed_zone_time(last, zone)
        )
    }
}

fn seed_zone_time(at: DateTime<Utc>, zone: &Zone) -> String {
    let local = zone.local(at);
    format!(
        "{}GMT{}",
        local.format("%Y-%m-%d %H:%M:%S"),
        local.format("%:z")
    )
}

/// Seed 000's compact time, `YYYYMMDDHHMMSS`, in the service zone.
pub fn seed_compact(at: DateTime<Utc>, zone: &Zone) -> String {
    zone.local(at).format("%Y%m%d%H%M%S").to_string()
}

/// Milliseconds since the Unix epoch, as stored.
pub fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The instant of a stored millisecond timestamp.
pub fn from_millis(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_pattern_says_what_parse_takes() {
        let pattern = regex::Regex::new(ZONE_OFFSET_PATTERN).unwrap();
        for text in [
            "UTC",
            "GMT",
            " GMT+09:00 ",
            "+09:00",
            "-0530",
            "+9",
            "UTC-5",
            "+14:59",
            "+1",
            "+15",
            "+9:00",
            "GMT+",
            "",
            "UTC+123",
            "+0a",
            "-00:60",
        ] {
            assert_eq!(
                pattern.is_match(text),
                Zone::parse(text).is_ok(),
                "{text:?}: the pattern and Zone::parse disagree"
            );
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn parses_the_forms_callers_send() {
        for (text, seconds) in [
            ("+08:00", 8 * 3600),
            ("GMT+09:00", 9 * 3600),
            ("-03:30", -(3 * 3600 + 1800)),
            ("+0530", 5 * 3600 + 1800),
            ("UTC", 0),
            ("GMT", 0),
            ("+9", 9 * 3600),
        ] {
            let zone = Zone::parse(text).unwrap();
            assert_eq!(
                zone.offset_at(Utc::now()).local_minus_utc(),
                seconds,
                "{text}"
            );
        }
        let tokyo = Zone::parse("Asia/Tokyo").unwrap();
        assert_eq!(tokyo.offset_at(Utc::now()).local_minus_utc(), 9 * 3600);
    }

    #[test]
    fn refuses_nonsense() {
        for bad in ["", "+25:00", "+08:99", "Mars/Olympus", "GMT+ab", "+123"] {
            assert!(Zone::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_seed_window_example() {
        // 2018-10-17 in +08:00 starts at 2018-10-16T16:00Z; in +09:00 that is 01:00.
        let day = QuotaDay::containing(at("2018-10-17T05:00:00+08:00"), &Zone::default());
        assert_eq!(day.key(), "2018-10-17");
        assert_eq!(
            day.window_in(&Zone::parse("GMT+09:00").unwrap()),
            "2018-10-17 01:00:00GMT+09:00~2018-10-18 00:59:59GMT+09:00"
        );
    }

    #[test]
    fn the_day_follows_the_service_zone() {
        let zone = Zone::default();
        // 23:30 UTC on the 16th is 07:30 on the 17th in +08:00.
        let day = QuotaDay::containing(at("2018-10-16T23:30:00Z"), &zone);
        assert_eq!(day.key(), "2018-10-17");
        let day = QuotaDay::containing(at("2018-10-16T15:59:59Z"), &zone);
        assert_eq!(day.key(), "2018-10-16");
    }

    #[test]
    fn compact_times_are_in_the_service_zone() {
        assert_eq!(
            seed_compact(at("2017-05-04T09:27:53Z"), &Zone::default()),
            "20170504172753"
        );
    }
}
