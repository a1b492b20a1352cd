//! Wall-clock instants as Unix milliseconds: the unit both databases store.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// An instant in Unix milliseconds (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Wraps a stored millisecond value.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// The millisecond value, as stored.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// The same instant as the standard library's clock reads it (instants
    /// before 1970 as 1970).
    pub fn to_system_time(self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + Duration::from_millis(self.0.max(0) as u64)
    }

    /// This instant moved forward by `d` (saturating).
    pub fn plus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// This instant moved back by `d` (saturating).
    pub fn minus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(ms))
    }

    /// Time from `earlier` to this instant, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0 - earlier.0).unwrap_or(0))
    }

    /// RFC 3339 text in UTC, as the API shows times.
    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default()
    }

    /// Parses RFC 3339 text as a client sends it.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .ok()
            .map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_milliseconds() {
        let t = Timestamp::from_millis(1_763_000_000_123);
        let text = t.to_rfc3339();
        assert_eq!(text, "2025-11-13T02:13:20.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&text), Some(t));
    }

    #[test]
    fn since_never_goes_negative() {
        let a = Timestamp::from_millis(10);
        assert_eq!(a.since(Timestamp::from_millis(20)), Duration::ZERO);
    }
}
