//! The voice jobs' domain: whose voice (a tenant's user), where the samples
//! wait, the verification lockout, and voiceprints sealed at rest.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::ids::UserId;
use crate::{ids::TenantId, objects::ObjectKey, seal::AssociatedData};

/// Most samples one enrollment may carry.
pub const MAX_ENROLL_SAMPLES: usize = 10;

/// Good samples an enrollment needs: 1 to [`MAX_ENROLL_SAMPLES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrollSamples(usize);

impl EnrollSamples {
    /// The number.
    pub fn get(self) -> usize {
        self.0
    }
}

impl mixdown_settings::Value for EnrollSamples {
    fn parse(text: &str) -> Result<Self, String> {
        let n: usize = text.trim().parse().map_err(|e| format!("{e}"))?;
        if (1..=MAX_ENROLL_SAMPLES).contains(&n) {
            Ok(Self(n))
        } else {
            Err(format!("must be between 1 and {MAX_ENROLL_SAMPLES}"))
        }
    }

    fn show(&self) -> String {
        self.0.to_string()
    }
}

/// What the sealed voiceprint of `user` of `tenant` is bound to: a print
/// copied onto another user does not open.
pub fn print_binding(tenant: TenantId, user: &UserId) -> AssociatedData {
    AssociatedData::new("mixdown-voiceprint", &[&tenant.to_string(), user.as_str()])
}

/// The prefix of every voice sample's key.
pub const SAMPLES: &str = "voice";

/// A fresh key for one uploaded sample of `tenant`: made by Mixdown, never
/// from what the client sent.
pub fn new_sample_key(tenant: TenantId) -> ObjectKey {
    let key = format!("{SAMPLES}/{tenant}/{}", uuid::Uuid::now_v7());
    ObjectKey::new(key).expect("a tenant id and a UUID make a valid key")
}

/// Whether `key` is a sample stored for `tenant`: a worker reads and deletes
/// only those, whatever a payload says.
pub fn is_sample_of(key: &ObjectKey, tenant: TenantId) -> bool {
    key.as_str()
        .strip_prefix(SAMPLES)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.strip_prefix(&tenant.to_string()))
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The samples of an enrollment: 1 to [`MAX_ENROLL_SAMPLES`] keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<ObjectKey>", into = "Vec<ObjectKey>")]
pub struct SampleKeys(Vec<ObjectKey>);

impl SampleKeys {
    /// The keys, in the order the client sent the samples.
    pub fn as_slice(&self) -> &[ObjectKey] {
        &self.0
    }
}

impl TryFrom<Vec<ObjectKey>> for SampleKeys {
    type Error = String;

    fn try_from(keys: Vec<ObjectKey>) -> Result<Self, String> {
        if (1..=MAX_ENROLL_SAMPLES).contains(&keys.len()) {
            Ok(Self(keys))
        } else {
            Err(format!("must hold 1 to {MAX_ENROLL_SAMPLES} samples"))
        }
    }
}

impl From<SampleKeys> for Vec<ObjectKey> {
    fn from(keys: SampleKeys) -> Self {
        keys.0
    }
}

/// Input of a `voice_enroll` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceEnrollPayload {
    /// Whose voice.
    pub user_id: UserId,
    /// Where the uploaded samples wait.
    pub samples: SampleKeys,
}

/// Input of a `voice_verify` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceVerifyPayload {
    /// Who claims to speak.
    pub user_id: UserId,
    /// Where the uploaded sample waits.
    pub sample: ObjectKey,
}

/// What a `voice_enroll` job produced: the new print's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollResult {
    /// Whose print.
    pub user_id: UserId,
    /// Version of the model that made it.
    pub model: String,
    /// Samples it averages.
    pub samples: u32,
    /// Speech in the enrollment, seconds.
    pub speech_seconds: f64,
}

/// What a `voice_verify` job produced: the verdict and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyResult {
    /// Calibrated score: the log-likelihood ratio that the voice is the
    /// user's (0 undecided, positive for, negative against).
    pub score: f64,
    /// The threshold the score was held to.
    pub threshold: f64,
    /// Whether the voice is the user's.
    pub accepted: bool,
    /// Cosine similarity of the sample to the print's closest centroid.
    pub cosine: f64,
    /// The condition of that centroid (`clean`, `noisy`, `reverberant`, `telephone`).
    pub matched: String,
    /// How the sample was recorded, as the calibration read it.
    pub quality: VerifyQuality,
}

/// The quality measures of a verified sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VerifyQuality {
    /// Speech found, seconds.
    pub speech_seconds: f64,
    /// Estimated signal-to-noise ratio, dB.
    pub snr_db: f64,
    /// Whether the sample is telephone-band.
    pub narrow_band: bool,
    /// Steepest fall of the voice's energy, dB/s (low in a reverberant room).
    pub decay_db_per_s: f64,
    /// Spectral flatness of the noise floor (low when it is other voices).
    pub floor_flatness: f64,
}

/// After `max_failures` rejected verifications of a user within `window`,
/// verifying that user is refused until the window has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// Rejections that lock; 0 never locks.
    pub max_failures: u32,
    /// How far back rejections count.
    pub window: Duration,
}

/// What a voiceprint row shows besides its sealed bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceprintSummary {
    /// Version of the model that made the print.
    pub model: String,
    /// Enrollment samples.
    pub samples: u32,
    /// Speech in the enrollment, seconds.
    pub speech_seconds: f64,
}

/// How a voiceprint has been used since its user first enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VoiceUsage {
    /// Verifications scored.
    pub verifications: u64,
    /// Of them, accepted.
    pub accepts: u64,
    /// When the last one was scored.
    pub last_verified_at: Option<crate::time::Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_short_and_url_safe() {
        assert!(UserId::parse("alice@example.com").is_ok());
        assert!(UserId::parse("u:42_a-b.c").is_ok());
        for bad in ["", "a b", "a/b", "é", "a?b", &"x".repeat(129)] {
            assert!(UserId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sample_keys_belong_to_their_tenant_only() {
        let (mine, theirs) = (TenantId::new(), TenantId::new());
        let key = new_sample_key(mine);
        assert!(is_sample_of(&key, mine));
        assert!(!is_sample_of(&key, theirs));
        let sibling = ObjectKey::new(format!("voice/{mine}x/a")).unwrap();
        assert!(!is_sample_of(&sibling, mine));
    }
}
