//! Callbacks: a job's end, or a track's, reported by a signed POST to the URL its
//! client gave. Each end is reported once by a `callback` job of its own, recorded
//! by the reconciler; that job's attempts and errors are the delivery log.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{
    ids::{JobId, TenantId, TrackId},
    model::{Job, JobError},
    time::Timestamp,
};

/// Name of the fleet's master callback secret among the database's shared secrets.
pub const SECRET_NAME: &str = "callback_signing_key";

/// Header carrying the signature of a callback's body.
pub const SIGNATURE_HEADER: &str = "Mixdown-Signature";

/// Input of a `callback` job: the job whose end it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackPayload {
    /// The ended job (for a track's jobs, the report is about the track).
    pub job_id: JobId,
}

/// The body of a callback: the end of a job, or of a track's processing.
/// It says where to read the rest, so no URL in it goes stale in a log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CallbackEvent {
    /// `job.succeeded`, `job.failed` or `job.cancelled`.
    Job(JobReport),
    /// `track.ready` or `track.failed`.
    Track(TrackReport),
}

/// A job's end, after its last attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobReport {
    /// `job.` and the job's state.
    pub event: String,
    /// The job.
    pub job_id: JobId,
    /// Its kind.
    pub kind: &'static str,
    /// Its final state.
    pub state: &'static str,
    /// Attempts it took.
    pub attempts: u32,
    /// What it produced.
    pub result: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<JobError>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Where to read it.
    pub status_url: String,
}

impl JobReport {
    /// The end of `job`.
    pub fn of(job: &Job) -> Self {
        Self {
            event: format!("job.{}", job.state),
            job_id: job.id,
            kind: job.kind.as_str(),
            state: job.state.as_str(),
            attempts: job.attempts,
            result: job.result.clone(),
            error: job.error.clone(),
            finished_at: job.finished_at.map(Timestamp::to_rfc3339),
            status_url: format!("/v1/jobs/{}", job.id),
        }
    }
}

/// The end of a track's processing (built by `workflow::track::report`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackReport {
    /// `track.ready` or `track.failed`.
    pub event: &'static str,
    /// The track.
    pub track_id: TrackId,
    /// `ready` or `failed`.
    pub state: &'static str,
    /// Why it failed.
    pub error: Option<JobError>,
    /// The track's workflow job.
    pub job_id: JobId,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Where to read it.
    pub status_url: String,
}

/// What a delivered `callback` job produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryResult {
    /// The receiver's answer.
    pub status: u16,
    /// Where it was delivered.
    pub url: String,
}

/// The secret a tenant checks its callbacks with: an HMAC of its id under the master
/// secret, so tenants never share one and the master never leaves the fleet.
pub fn tenant_secret(master: &str, tenant: TenantId) -> String {
    hex::encode(mac(master.as_bytes(), tenant.to_string().as_bytes()))
}

/// The [`SIGNATURE_HEADER`] value for `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under the tenant secret>`.
/// The timestamp lets a receiver refuse replays of old deliveries.
pub fn signature(tenant_secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let v1 = hex::encode(mac(tenant_secret.as_bytes(), &signed));
    format!("t={timestamp},v1={v1}")
}

fn mac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_get_different_secrets_from_one_master() {
        let (a, b) = (TenantId::new(), TenantId::new());
        assert_ne!(tenant_secret("master", a), tenant_secret("master", b));
        assert_eq!(tenant_secret("master", a), tenant_secret("master", a));
        assert_eq!(tenant_secret("master", a).len(), 64);
    }

    #[test]
    fn the_signature_covers_time_and_body() {
        let s = signature("secret", 1_700_000_000, b"{}");
        assert!(s.starts_with("t=1700000000,v1="), "{s}");
        assert_ne!(s, signature("secret", 1_700_000_001, b"{}"));
        assert_ne!(s, signature("secret", 1_700_000_000, b"{ }"));
        // HMAC-SHA256 of "1700000000.{}" under "secret", as `openssl dgst -sha256 -hmac` computes it.
        assert_eq!(
            s,
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }
}
