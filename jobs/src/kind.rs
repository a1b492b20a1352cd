//! Job kinds, their queues and defaults, and their typed payloads.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a job does; each kind has its own queue so it can be scaled alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Sleeps, then fails its first N attempts: checks a fleet end to end.
    Noop,
}

impl JobKind {
    /// Every kind, in the order the API lists them.
    pub const ALL: [JobKind; 1] = [JobKind::Noop];

    /// The kind named by `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The wire name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Noop => "noop",
        }
    }

    /// The queue the kind's jobs wait in.
    pub fn queue(self) -> &'static str {
        self.as_str()
    }

    /// How many attempts a job of this kind gets when the client does not say.
    pub fn default_max_attempts(self) -> u32 {
        match self {
            JobKind::Noop => 3,
        }
    }

    /// How long one attempt may run before it is stopped and counted as failed.
    pub fn timeout(self) -> Duration {
        match self {
            JobKind::Noop => Duration::from_secs(15 * 60),
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A payload that does not fit its kind, naming the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PayloadError {
    /// Dotted path of the field, starting at `payload`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// A job's input, typed per kind.
#[derive(Debug, Clone, PartialEq)]
pub enum JobPayload {
    /// Input of a `noop` job.
    Noop(NoopPayload),
}

impl JobPayload {
    /// Parses `value` as the payload of `kind`; absent means an empty object.
    pub fn parse(kind: JobKind, value: Option<&Value>) -> Result<Self, PayloadError> {
        let empty = Value::Object(Default::default());
        let value = value.filter(|v| !v.is_null()).unwrap_or(&empty);
        if !value.is_object() {
            return Err(PayloadError {
                field: "payload".into(),
                message: "must be a JSON object".into(),
            });
        }
        match kind {
            JobKind::Noop => parse_typed(value).map(JobPayload::Noop),
        }
    }

    /// The kind this payload belongs to.
    pub fn kind(&self) -> JobKind {
        match self {
            JobPayload::Noop(_) => JobKind::Noop,
        }
    }

    /// The payload as stored and shown.
    pub fn to_json(&self) -> Value {
        match self {
            JobPayload::Noop(p) => serde_json::to_value(p),
        }
        .unwrap_or(Value::Null)
    }
}

fn parse_typed<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, PayloadError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        PayloadError {
            field: if path == "." {
                "payload".into()
            } else {
                format!("payload.{path}")
            },
            message: err.into_inner().to_string(),
        }
    })
}

/// Longest sleep a `noop` job may ask for.
pub const MAX_NOOP_SLEEP_MS: u64 = 10 * 60 * 1000;
/// Most attempts a `noop` job may ask to fail.
pub const MAX_NOOP_FAIL_ATTEMPTS: u32 = 100;

/// Input of a `noop` job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoopPayload {
    /// How long to sleep, in milliseconds.
    pub sleep_ms: Bounded<MAX_NOOP_SLEEP_MS>,
    /// How many first attempts fail on purpose.
    pub fail_attempts: Bounded<{ MAX_NOOP_FAIL_ATTEMPTS as u64 }>,
}

/// A non-negative integer no larger than `MAX`, checked as it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Bounded<const MAX: u64>(u64);

impl<const MAX: u64> Bounded<MAX> {
    /// The value.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<const MAX: u64> TryFrom<u64> for Bounded<MAX> {
    type Error = String;

    fn try_from(v: u64) -> Result<Self, String> {
        if v <= MAX {
            Ok(Self(v))
        } else {
            Err(format!("must be at most {MAX}, got {v}"))
        }
    }
}

impl<const MAX: u64> From<Bounded<MAX>> for u64 {
    fn from(b: Bounded<MAX>) -> u64 {
        b.0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_missing_payload_means_all_defaults() {
        let p = JobPayload::parse(JobKind::Noop, None).unwrap();
        assert_eq!(p, JobPayload::Noop(NoopPayload::default()));
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let err = JobPayload::parse(JobKind::Noop, Some(&json!({"sleep_ms": "x"}))).unwrap_err();
        assert_eq!(err.field, "payload.sleep_ms");
    }

    #[test]
    fn negative_and_absurd_values_are_refused() {
        for bad in [json!({"sleep_ms": -1}), json!({"sleep_ms": 1u64 << 40})] {
            let err = JobPayload::parse(JobKind::Noop, Some(&bad)).unwrap_err();
            assert_eq!(err.field, "payload.sleep_ms", "{bad}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = JobPayload::parse(JobKind::Noop, Some(&json!({"slep_ms": 1}))).unwrap_err();
        assert!(err.message.contains("slep_ms"), "{err}");
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(JobKind::parse("nope"), None);
    }
}
