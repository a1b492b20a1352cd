//! The job record: its states, its bounded fields, and what a run reports.

use std::fmt;

use serde_json::Value;

use crate::{
    codes::ErrorCode,
    ids::{JobId, ScheduleId, TenantId},
    kind::JobKind,
    payload::JobPayload,
    result::JobResult,
    schedules::Tick,
    time::Timestamp,
};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for a worker (possibly until `run_at`).
    Queued,
    /// Claimed by a worker and running.
    Running,
    /// Its own step is done and it waits for its children to end; clients
    /// see it as running.
    Waiting,
    /// Finished with a result.
    Succeeded,
    /// Out of attempts, or failed for good; retryable by hand.
    Failed,
    /// Stopped on request; retryable by hand.
    Cancelled,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Waiting,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// The storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Waiting => "waiting",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state as clients see it: a parent waiting for its children is
    /// still at work, so it shows as `running`.
    pub fn client_name(self) -> &'static str {
        match self {
            JobState::Waiting => JobState::Running.as_str(),
            other => other.as_str(),
        }
    }

    /// The state named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the job has ended (until someone retries it).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! bounded_int {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name($ty);

        impl $name {
            /// Smallest allowed value.
            pub const MIN: $ty = $min;
            /// Largest allowed value.
            pub const MAX: $ty = $max;

            /// The value if it lies within bounds.
            pub fn new(v: i64) -> Option<Self> {
                (i64::from(Self::MIN)..=i64::from(Self::MAX))
                    .contains(&v)
                    .then(|| Self(v as $ty))
            }

            /// The value.
            pub fn get(self) -> $ty {
                self.0
            }
        }
    };
}

bounded_int!(
    /// Scheduling priority: higher runs first; 0 by default.
    Priority, i32, -100, 100
);

impl Default for Priority {
    fn default() -> Self {
        Self::new(0).expect("0 is a priority")
    }
}
bounded_int!(
    /// How many times a job may run before it fails for good.
    MaxAttempts, u32, 1, 100
);

/// Why an attempt did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobError {
    /// Its code in the catalogue.
    pub code: ErrorCode,
    /// Human sentence.
    pub message: String,
}

impl JobError {
    /// An error with `code`, told by `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A job as the database records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// Its owner.
    pub tenant_id: TenantId,
    /// What it does.
    pub kind: JobKind,
    /// Its input as stored.
    pub payload: Value,
    /// Where it is in its life.
    pub state: JobState,
    /// Scheduling priority.
    pub priority: Priority,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Progress of the current attempt, 0 to 1.
    pub progress: f64,
    /// Not run before this instant.
    pub run_at: Timestamp,
    /// When it was accepted.
    pub created_at: Timestamp,
    /// When its current or last attempt started.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
    /// What it produced.
    pub result: Option<Value>,
    /// Why its last attempt failed.
    pub error: Option<JobError>,
    /// The job that spawned it.
    pub parent_id: Option<JobId>,
    /// Where to report its end.
    pub callback_url: Option<String>,
    /// The `callback` job reporting its last end, once recorded.
    pub callback_job_id: Option<JobId>,
    /// Whether someone asked a running attempt to stop.
    pub cancel_requested: bool,
    /// The schedule tick it was made for, if a schedule made it.
    pub schedule: Option<Tick>,
}

/// A job to be accepted.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Its owner.
    pub tenant_id: TenantId,
    /// Its typed input, which fixes its kind.
    pub payload: JobPayload,
    /// Scheduling priority.
    pub priority: Priority,
    /// Attempts allowed.
    pub max_attempts: MaxAttempts,
    /// Not run before this instant (`None`: now).
    pub run_at: Option<Timestamp>,
    /// The job that spawned it.
    pub parent_id: Option<JobId>,
    /// Where to report its end.
    pub callback_url: Option<String>,
    /// A client's key that makes repeating the request harmless.
    pub idempotency_key: Option<String>,
    /// What the request carrying the key asked for: the same key with
    /// another digest is refused. `None` for the fleet's own keys.
    pub request_digest: Option<RequestDigest>,
}

/// The SHA-256 of a request in canonical JSON (object keys sorted, no
/// spaces), so that the same request sent with its fields in another order
/// has the same digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestDigest(String);

impl RequestDigest {
    /// The digest of `request`.
    pub fn of(request: &Value) -> Self {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        canonical(request, &mut |part| hasher.update(part.as_bytes()));
        Self(hex::encode(hasher.finalize()))
    }

    /// The digest as stored, in hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Feeds `value` to `out` as canonical JSON.
fn canonical(value: &Value, out: &mut impl FnMut(&str)) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out("{");
            for (i, key) in keys.into_iter().enumerate() {
                out(if i == 0 { "" } else { "," });
                out(&Value::from(key.as_str()).to_string());
                out(":");
                canonical(&map[key], out);
            }
            out("}");
        }
        Value::Array(items) => {
            out("[");
            for (i, item) in items.iter().enumerate() {
                out(if i == 0 { "" } else { "," });
                canonical(item, out);
            }
            out("]");
        }
        scalar => out(&scalar.to_string()),
    }
}

impl NewJob {
    /// A job of `payload`'s kind with every default: due now, default
    /// priority and attempts, no parent, callback or idempotency key.
    pub fn with_defaults(tenant_id: TenantId, payload: JobPayload) -> Self {
        let attempts = i64::from(payload.kind().default_max_attempts());
        Self {
            tenant_id,
            payload,
            priority: Priority::default(),
            max_attempts: MaxAttempts::new(attempts).expect("defaults are in range"),
            run_at: None,
            parent_id: None,
            callback_url: None,
            idempotency_key: None,
            request_digest: None,
        }
    }
}

/// A share of a parent's work: positive and finite.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Weight(f64);

impl Weight {
    /// The weight, if `w` is positive and finite.
    pub const fn new(w: f64) -> Option<Self> {
        if w.is_finite() && w > 0.0 {
            Some(Self(w))
        } else {
            None
        }
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// A job to record under a parent that waits for it. It belongs to the
/// parent's tenant and runs at the parent's priority.
#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    /// Its step's name, unique among the parent's children: recording the
    /// same step twice keeps the first.
    pub step: String,
    /// What it does.
    pub payload: JobPayload,
    /// Its share of the parent's progress.
    pub weight: Weight,
}

/// What ended an attempt, as a handler reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done, with this result.
    Succeeded(JobResult),
    /// Failed; `retryable` says whether another attempt can help.
    Failed {
        /// Why.
        error: JobError,
        /// Whether a later attempt may succeed.
        retryable: bool,
    },
    /// Stopped at a checkpoint because cancellation was requested.
    Cancelled,
    /// Its own step is done: record these children and wait for them.
    Awaiting(Vec<Child>),
    /// Not run now: back to the queue until then, the attempt not counted.
    Deferred(Timestamp),
}

/// Which jobs a listing wants.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs of this kind.
    pub kind: Option<JobKind>,
    /// Only jobs older than this one (the cursor).
    pub before: Option<JobId>,
    /// Only jobs this schedule made.
    pub schedule: Option<ScheduleId>,
    /// At most this many.
    pub limit: u32,
}

/// Which of a tenant's jobs a bulk retry or cancel acts on.
#[derive(Debug, Clone)]
pub struct BulkFilter {
    /// Jobs in any of these states (never empty).
    pub states: Vec<JobState>,
    /// Only jobs of this kind.
    pub kind: Option<JobKind>,
    /// Only jobs accepted before this instant.
    pub created_before: Option<Timestamp>,
    /// Only jobs accepted after this instant.
    pub created_after: Option<Timestamp>,
    /// Only jobs whose last attempt failed with this code.
    pub error_code: Option<ErrorCode>,
    /// At most this many jobs.
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::RequestDigest;

    #[test]
    fn a_request_digest_ignores_the_order_of_fields_but_not_their_values() {
        let a = json!({"kind": "noop", "payload": {"sleep_ms": 1, "fail_attempts": 0}, "x": [1, {"b": 2, "a": 1}]});
        let b = json!({"x": [1, {"a": 1, "b": 2}], "payload": {"fail_attempts": 0, "sleep_ms": 1}, "kind": "noop"});
        assert_eq!(RequestDigest::of(&a), RequestDigest::of(&b));
        let c = json!({"kind": "noop", "payload": {"sleep_ms": 2, "fail_attempts": 0}, "x": [1, {"b": 2, "a": 1}]});
        assert_ne!(RequestDigest::of(&a), RequestDigest::of(&c));
        assert_ne!(
            RequestDigest::of(&json!([1, 2])),
            RequestDigest::of(&json!([2, 1]))
        );
        assert_eq!(RequestDigest::of(&a).as_str().len(), 64);
    }
}
