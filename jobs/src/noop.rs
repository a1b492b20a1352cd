//! The `noop` kind's input and result: it sleeps, then fails its first N
//! attempts, to check a fleet end to end and to measure the queue itself.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Longest sleep a `noop` job may ask for.
pub const MAX_NOOP_SLEEP_MS: u64 = 10 * 60 * 1000;
/// Most attempts a `noop` job may ask to fail.
pub const MAX_NOOP_FAIL_ATTEMPTS: u32 = 100;

/// Input of a `noop` job. Besides sleeping and failing, it can misbehave the
/// way real handlers do (crash the process, hog its thread) so that a fleet's
/// recovery can be proven; workers honour those faults only when fault
/// injection is enabled for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
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

impl<const MAX: u64> JsonSchema for Bounded<MAX> {
    fn schema_name() -> Cow<'static, str> {
        format!("Bounded{MAX}").into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 0, "maximum": MAX})
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

/// What a `noop` job produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoopResult {
    /// How long it slept, in milliseconds.
    pub slept_ms: u64,
    /// The attempt that succeeded.
    pub attempt: u32,
    /// The worker process that ran it.
    pub worker_id: String,
}
