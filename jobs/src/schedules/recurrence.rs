//! A cron rule read in an IANA time zone, and the instants it ticks at.
//!
//! The rule is croner's (Vixie cron's fields with an optional seconds field
//! first); its daylight-saving rule is Vixie cron's, as croner implements it:
//! a rule of one fixed second, minute and hour whose local time a spring
//! change skips fires at the first instant after the gap, and in an hour an
//! autumn change repeats it fires once, at the first pass; a rule with a
//! wildcard or a step in those fields fires at each local time that exists,
//! so none in a skipped hour and each in a repeated one.

use std::{fmt, time::Duration};

use croner::{
    Cron,
    parser::{CronParser, Seconds, Year},
};
use jiff::{Zoned, tz::TimeZone};

use crate::time::Timestamp;

/// Longest cron expression accepted.
const MAX_EXPRESSION: usize = 256;
/// Longest time zone name accepted (the longest IANA name is 32 bytes).
const MAX_ZONE: usize = 64;
/// A rule must still tick after this instant (1 January 4000, UTC): cron
/// fields without a year repeat with the 400-year Gregorian cycle, so a rule
/// that ticks then ticks in every year a schedule can meet. Croner searches no
/// further than the year 5000.
const STILL_TICKS_AFTER: Timestamp = Timestamp::from_millis(64_060_588_800_000);

/// Why a rule or its zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    /// The expression does not parse, or it never ticks.
    #[error("{0}")]
    Cron(String),
    /// The zone is not in the time zone database.
    #[error("unknown time zone {0:?}: use an IANA name such as Europe/Berlin or UTC")]
    Zone(String),
}

/// A cron expression (5 fields, or 6 with seconds first) read in a time zone.
#[derive(Clone)]
pub struct Recurrence {
    cron: Cron,
    expression: String,
    zone: TimeZone,
    zone_name: String,
}

impl Recurrence {
    /// The rule of `expression` read in the IANA zone `zone`.
    pub fn parse(expression: &str, zone: &str) -> Result<Self, RecurrenceError> {
        let expression = expression.trim();
        if expression.len() > MAX_EXPRESSION {
            let message = format!("must be at most {MAX_EXPRESSION} characters");
            return Err(RecurrenceError::Cron(message));
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        let cron = parser
            .parse(expression)
            .map_err(|e| RecurrenceError::Cron(e.to_string()))?;
        let unknown = || RecurrenceError::Zone(zone.to_owned());
        if zone.is_empty() || zone.len() > MAX_ZONE {
            return Err(unknown());
        }
        let tz = TimeZone::get(zone).map_err(|_| unknown())?;
        let rule = Self {
            cron,
            expression: expression.to_owned(),
            zone_name: tz.iana_name().unwrap_or(zone).to_owned(),
            zone: tz,
        };
        rule.next_after(STILL_TICKS_AFTER)
            .ok_or_else(|| RecurrenceError::Cron("never matches a date".into()))?;
        Ok(rule)
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The zone's IANA name.
    pub fn zone(&self) -> &str {
        &self.zone_name
    }

    /// The first tick after `t`.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        // Ticks fall on whole seconds: from the second `t` is in, the next
        // one is after `t` too.
        let from = self.zoned(floor_second(t))?;
        let next = self.cron.find_next_occurrence(&from, false).ok()?;
        Some(Timestamp::from_millis(next.timestamp().as_millisecond()))
    }

    /// The last tick before `t`.
    pub fn last_before(&self, t: Timestamp) -> Option<Timestamp> {
        let ceiling = floor_second(t.plus(Duration::from_millis(999)));
        let from = self.zoned(ceiling)?;
        let last = self.cron.find_previous_occurrence(&from, false).ok()?;
        Some(Timestamp::from_millis(last.timestamp().as_millisecond()))
    }

    /// The first tick after `now`, or why there is none.
    pub fn upcoming(&self, now: Timestamp) -> Result<Timestamp, RecurrenceError> {
        self.next_after(now).ok_or_else(|| {
            let message = format!("has no tick after {}", now.to_rfc3339());
            RecurrenceError::Cron(message)
        })
    }

    fn zoned(&self, t: Timestamp) -> Option<Zoned> {
        let instant = jiff::Timestamp::from_millisecond(t.millis()).ok()?;
        Some(instant.to_zoned(self.zone.clone()))
    }
}

fn floor_second(t: Timestamp) -> Timestamp {
    Timestamp::from_millis(t.millis().div_euclid(1000) * 1000)
}

impl fmt::Debug for Recurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recurrence({:?} in {})", self.expression, self.zone_name)
    }
}

impl PartialEq for Recurrence {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression && self.zone_name == other.zone_name
    }
}

#[cfg(test)]
mod tests;
