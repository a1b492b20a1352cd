//! Job kinds, their queues and defaults, and their typed payloads.

use std::{collections::HashMap, fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    callbacks::CallbackPayload,
    tracks::{IngestPayload, TranscodePayload},
    voice::{VoiceEnrollPayload, VoiceVerifyPayload},
};

/// What a job does; each kind has its own queue so it can be scaled alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Sleeps, then fails its first N attempts: checks a fleet end to end.
    Noop,
    /// Makes a user's voiceprint from uploaded samples.
    VoiceEnroll,
    /// Scores an uploaded sample against a user's voiceprint.
    VoiceVerify,
    /// Proves an uploaded original is audio and describes it.
    Ingest,
    /// Decodes a track once into every output of its presets, with loudness.
    Transcode,
    /// Reports a job's or a track's end to its callback URL.
    Callback,
}

impl JobKind {
    /// Every kind, in the order the API lists them.
    pub const ALL: [JobKind; 6] = [
        JobKind::Noop,
        JobKind::VoiceEnroll,
        JobKind::VoiceVerify,
        JobKind::Ingest,
        JobKind::Transcode,
        JobKind::Callback,
    ];

    /// The kind named by `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The wire name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Noop => "noop",
            JobKind::VoiceEnroll => "voice_enroll",
            JobKind::VoiceVerify => "voice_verify",
            JobKind::Ingest => "ingest",
            JobKind::Transcode => "transcode",
            JobKind::Callback => "callback",
        }
    }

    /// The queue the kind's jobs wait in.
    pub fn queue(self) -> &'static str {
        self.as_str()
    }

    /// Whether clients may submit this kind through `POST /v1/jobs`. Voice
    /// and track jobs name objects that only their own endpoints store.
    pub fn submittable(self) -> bool {
        self == JobKind::Noop
    }

    /// Whether the kind's handler needs the voice engine and the voiceprint key.
    pub fn is_voice(self) -> bool {
        matches!(self, JobKind::VoiceEnroll | JobKind::VoiceVerify)
    }

    /// How many attempts a job of this kind gets when the client does not say.
    /// Voice jobs fail for good on bad audio; more attempts only help when a
    /// store was briefly unreachable.
    pub fn default_max_attempts(self) -> u32 {
        match self {
            JobKind::Noop
            | JobKind::VoiceEnroll
            | JobKind::VoiceVerify
            | JobKind::Ingest
            | JobKind::Transcode => 3,
            // With the default backoff (1 s doubling, capped at 10 min, jittered by
            // half) twelve attempts ride out 13 to 27 minutes of a receiver being down.
            JobKind::Callback => 12,
        }
    }

    /// How long one attempt may run, unless configured otherwise.
    pub fn default_timeout(self) -> Duration {
        match self {
            JobKind::Noop => Duration::from_secs(15 * 60),
            // Ten samples of a minute each embed in well under a minute.
            JobKind::VoiceEnroll => Duration::from_secs(120),
            // Verification is interactive: a stuck attempt should give way fast.
            JobKind::VoiceVerify => Duration::from_secs(30),
            // Reading tags and hashing a 2 GB original takes well under a minute.
            JobKind::Ingest => Duration::from_secs(10 * 60),
            // A 4-hour original runs at tens of times real time.
            JobKind::Transcode => Duration::from_secs(2 * 60 * 60),
            // One POST with its own shorter timeout.
            JobKind::Callback => Duration::from_secs(60),
        }
    }
}

/// Attempt time limits per kind: each kind's default unless configured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timeouts(HashMap<JobKind, Duration>);

impl Timeouts {
    /// How long one attempt of `kind` may run before it is stopped.
    pub fn of(&self, kind: JobKind) -> Duration {
        self.0
            .get(&kind)
            .copied()
            .unwrap_or_else(|| kind.default_timeout())
    }
}

impl FromStr for Timeouts {
    type Err = String;

    /// Parses `kind=duration` pairs separated by commas, e.g.
    /// `noop=30s,transcode=2h`; units are ms, s, m and h.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut map = HashMap::new();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not kind=duration"))?;
            let kind = JobKind::parse(name.trim())
                .ok_or_else(|| format!("unknown job kind {:?}", name.trim()))?;
            map.insert(kind, parse_duration(value.trim())?);
        }
        Ok(Self(map))
    }
}

/// Parses `1500ms`, `30s`, `10m` or `2h`; zero is refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit (ms, s, m or h)"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let millis = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(format!("{text:?} has an unknown unit (ms, s, m or h)")),
    };
    match millis {
        Some(0) => Err(format!("{text:?} must be longer than zero")),
        Some(ms) => Ok(Duration::from_millis(ms)),
        None => Err(format!("{text:?} is too long")),
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
    /// Input of a `voice_enroll` job.
    VoiceEnroll(VoiceEnrollPayload),
    /// Input of a `voice_verify` job.
    VoiceVerify(VoiceVerifyPayload),
    /// Input of an `ingest` job.
    Ingest(IngestPayload),
    /// Input of a `transcode` job.
    Transcode(TranscodePayload),
    /// Input of a `callback` job.
    Callback(CallbackPayload),
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
            JobKind::VoiceEnroll => parse_typed(value).map(JobPayload::VoiceEnroll),
            JobKind::VoiceVerify => parse_typed(value).map(JobPayload::VoiceVerify),
            JobKind::Ingest => parse_typed(value).map(JobPayload::Ingest),
            JobKind::Transcode => parse_typed(value).map(JobPayload::Transcode),
            JobKind::Callback => parse_typed(value).map(JobPayload::Callback),
        }
    }

    /// The kind this payload belongs to.
    pub fn kind(&self) -> JobKind {
        match self {
            JobPayload::Noop(_) => JobKind::Noop,
            JobPayload::VoiceEnroll(_) => JobKind::VoiceEnroll,
            JobPayload::VoiceVerify(_) => JobKind::VoiceVerify,
            JobPayload::Ingest(_) => JobKind::Ingest,
            JobPayload::Transcode(_) => JobKind::Transcode,
            JobPayload::Callback(_) => JobKind::Callback,
        }
    }

    /// The payload as stored and shown.
    pub fn to_json(&self) -> Value {
        match self {
            JobPayload::Noop(p) => serde_json::to_value(p),
            JobPayload::VoiceEnroll(p) => serde_json::to_value(p),
            JobPayload::VoiceVerify(p) => serde_json::to_value(p),
            JobPayload::Ingest(p) => serde_json::to_value(p),
            JobPayload::Transcode(p) => serde_json::to_value(p),
            JobPayload::Callback(p) => serde_json::to_value(p),
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

/// Input of a `noop` job. Besides sleeping and failing, it can misbehave the
/// way real handlers do (crash the process, hog its thread) so that a fleet's
/// recovery can be proven; workers honour those faults only when fault
/// injection is enabled for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoopPayload {
    /// How long to sleep, in milliseconds.
    pub sleep_ms: Bounded<MAX_NOOP_SLEEP_MS>,
    /// How many first attempts fail on purpose.
    pub fail_attempts: Bounded<{ MAX_NOOP_FAIL_ATTEMPTS as u64 }>,
    /// Whether those failures are permanent (not worth another attempt).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fail_permanently: bool,
    /// How many first attempts abort the worker process (fault injection).
    #[serde(skip_serializing_if = "Bounded::is_zero")]
    pub abort_attempts: Bounded<{ MAX_NOOP_FAIL_ATTEMPTS as u64 }>,
    /// How long to block the worker thread before sleeping, in milliseconds,
    /// as CPU-bound code run on the async executor would (fault injection).
    #[serde(skip_serializing_if = "Bounded::is_zero")]
    pub block_ms: Bounded<MAX_NOOP_SLEEP_MS>,
}

impl NoopPayload {
    /// Whether the payload asks for a fault only fault injection allows.
    pub fn injects_faults(&self) -> bool {
        self.abort_attempts.get() > 0 || self.block_ms.get() > 0
    }
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

    /// Whether it is zero (then it is left out of a stored payload).
    pub fn is_zero(&self) -> bool {
        self.0 == 0
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
    fn timeouts_default_per_kind_and_parse_overrides() {
        assert_eq!(
            Timeouts::default().of(JobKind::Noop),
            JobKind::Noop.default_timeout()
        );
        let t: Timeouts = "noop=1500ms".parse().unwrap();
        assert_eq!(t.of(JobKind::Noop), Duration::from_millis(1500));
        for bad in [
            "noop",
            "nope=1s",
            "noop=5",
            "noop=0s",
            "noop=1d",
            "noop=99999999999999h",
        ] {
            assert!(bad.parse::<Timeouts>().is_err(), "{bad}");
        }
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn voice_payloads_parse_typed_ids_and_keys() {
        let ok = json!({"user_id": "alice", "sample": "voice/t/1"});
        let p = JobPayload::parse(JobKind::VoiceVerify, Some(&ok)).unwrap();
        assert_eq!(p.to_json(), ok);
        let err = JobPayload::parse(
            JobKind::VoiceVerify,
            Some(&json!({"user_id": "a b", "sample": "voice/t/1"})),
        );
        assert_eq!(err.unwrap_err().field, "payload.user_id");
        let err = JobPayload::parse(
            JobKind::VoiceVerify,
            Some(&json!({"user_id": "a", "sample": "../x"})),
        );
        assert_eq!(err.unwrap_err().field, "payload.sample");
        let none = json!({"user_id": "a", "samples": []});
        let err = JobPayload::parse(JobKind::VoiceEnroll, Some(&none)).unwrap_err();
        assert_eq!(err.field, "payload.samples");
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(JobKind::parse("nope"), None);
    }
}
