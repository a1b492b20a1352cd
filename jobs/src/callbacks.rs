//! Callbacks: a job's end, or a track's, reported by a signed POST to the URL its
//! client gave. Each end is reported once by a `callback` job of its own, recorded
//! by the reconciler; that job's attempts and errors are the delivery log.

use hmac::{Hmac, Mac};
use mixdown_settings::Secret;
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

/// The secrets a tenant's callbacks are signed with now: its current one and,
/// until a rotation's grace period ends, the one it replaced.
#[derive(Debug, Clone)]
pub struct CallbackSecrets {
    /// Signs every callback.
    pub current: Secret<String>,
    /// Signs them too until its end: the secret before the last rotation.
    pub previous: Option<PreviousSecret>,
}

/// A replaced callback secret that still signs during its grace period.
#[derive(Debug, Clone)]
pub struct PreviousSecret {
    /// The secret.
    pub secret: Secret<String>,
    /// When it stops signing.
    pub until: Timestamp,
}

impl CallbackSecrets {
    /// The secrets that sign, the current one first.
    fn signing(&self) -> impl Iterator<Item = &str> {
        let previous = self.previous.iter().map(|p| p.secret.expose().as_str());
        std::iter::once(self.current.expose().as_str()).chain(previous)
    }
}

/// Version `version` of the secret a tenant checks its callbacks with: an HMAC
/// of its id (and, after the first rotation, the version) under the master
/// secret, so tenants never share one and the master never leaves the fleet.
/// Version 0 is the secret every tenant had before secrets rotated.
pub fn tenant_secret(master: &str, tenant: TenantId, version: i64) -> String {
    let subject = match version {
        0 => tenant.to_string(),
        n => format!("{tenant}:{n}"),
    };
    hex::encode(mac(master.as_bytes(), subject.as_bytes()))
}

/// The [`SIGNATURE_HEADER`] value for `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under the tenant secret>`,
/// with a second `v1=` under the previous secret during a rotation's grace
/// period, so a receiver holding either secret accepts it. The timestamp lets a
/// receiver refuse replays of old deliveries.
pub fn signature(secrets: &CallbackSecrets, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let mut header = format!("t={timestamp}");
    for secret in secrets.signing() {
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac(secret.as_bytes(), &signed)));
    }
    header
}

fn mac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(current: &str, previous: Option<&str>) -> CallbackSecrets {
        CallbackSecrets {
            current: Secret::new(current.to_owned()),
            previous: previous.map(|p| PreviousSecret {
                secret: Secret::new(p.to_owned()),
                until: Timestamp::from_millis(0),
            }),
        }
    }

    #[test]
    fn tenants_get_different_secrets_from_one_master() {
        let (a, b) = (TenantId::new(), TenantId::new());
        assert_ne!(tenant_secret("master", a, 0), tenant_secret("master", b, 0));
        assert_eq!(tenant_secret("master", a, 0), tenant_secret("master", a, 0));
        assert_eq!(tenant_secret("master", a, 0).len(), 64);
        assert_ne!(tenant_secret("master", a, 0), tenant_secret("master", a, 1));
        assert_ne!(tenant_secret("master", a, 1), tenant_secret("master", a, 2));
    }

    #[test]
    fn the_signature_covers_time_and_body() {
        let one = secrets("secret", None);
        let s = signature(&one, 1_700_000_000, b"{}");
        assert!(s.starts_with("t=1700000000,v1="), "{s}");
        assert_ne!(s, signature(&one, 1_700_000_001, b"{}"));
        assert_ne!(s, signature(&one, 1_700_000_000, b"{ }"));
        // HMAC-SHA256 of "1700000000.{}" under "secret", as `openssl dgst -sha256 -hmac` computes it.
        assert_eq!(
            s,
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn during_a_rotation_both_secrets_sign_the_current_first() {
        let alone = signature(&secrets("new", None), 1_700_000_000, b"{}");
        let old = signature(&secrets("old", None), 1_700_000_000, b"{}");
        let both = signature(&secrets("new", Some("old")), 1_700_000_000, b"{}");
        let old_v1 = old.strip_prefix("t=1700000000").unwrap();
        assert_eq!(both, format!("{alone}{old_v1}"));
        assert_eq!(both.matches(",v1=").count(), 2);
        let shown = format!("{:?}", secrets("new", Some("old")));
        assert!(!shown.contains("new") && !shown.contains("old"), "{shown}");
    }
}
