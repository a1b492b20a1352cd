//! The settings every process of a fleet shares: where the stores are, how
//! long a silent worker is still alive, the voice rules that the API and the
//! workers both apply, and the keys both seal and open with.

use std::path::PathBuf;

/// What masks a secret setting wherever it is shown: `***`.
pub use mixdown_settings::Secret;
use mixdown_settings::{Millis, Seconds, SettingsError, settings};

use crate::{
    events::Retention,
    objects::S3Settings,
    queue::TenantWeights,
    seal::{OldSealKeys, SealKey, SealKeys},
    voice::{EnrollSamples, Lockout},
};

settings! {
    /// Where the stores are, and the rules every process shares.
    pub struct JobsSettings {
        /// directory of the embedded mode's database and objects
        data_dir: PathBuf = "./data", "MIXDOWN_DATA_DIR";
        /// postgres:// URL of the database (default: SQLite in the data directory)
        database_url: Option<Secret<String>> = "", "DATABASE_URL";
        /// redis:// URL of the queue (default: embedded, dev only)
        redis_url: Option<Secret<String>> = "", "REDIS_URL";
        /// prefix of every Redis key
        redis_prefix: String = "mixdown", "MIXDOWN_REDIS_PREFIX";
        /// endpoint of an S3-compatible server (default: AWS)
        s3_endpoint: Option<String> = "", "S3_ENDPOINT";
        /// bucket of the object store (default: a directory in the data directory)
        s3_bucket: Option<String> = "", "S3_BUCKET";
        /// signing region of the bucket
        s3_region: String = "us-east-1", "S3_REGION";
        /// S3 access key (default: the AWS credential chain)
        aws_access_key_id: Option<String> = "", "AWS_ACCESS_KEY_ID";
        /// S3 secret key
        aws_secret_access_key: Option<Secret<String>> = "", "AWS_SECRET_ACCESS_KEY";
        /// time between worker heartbeats
        heartbeat_interval_ms: Millis = "1000", "MIXDOWN_HEARTBEAT_INTERVAL_MS";
        /// silence after which a worker's jobs are taken back
        dead_after_ms: Millis = "6000", "MIXDOWN_DEAD_AFTER_MS";
        /// tenants' shares of each queue, TENANT=WEIGHT comma-separated, weights 1 to 1000 (others: 1)
        tenant_weights: TenantWeights = "", "MIXDOWN_TENANT_WEIGHTS";
        /// base64 of the 32-byte key sealing voiceprints (dev: generated in the data directory)
        voice_key: Option<SealKey> = "", "MIXDOWN_VOICE_KEY";
        /// earlier voice keys, comma-separated: they open old prints, which move to the new key
        voice_old_keys: OldSealKeys = "", "MIXDOWN_VOICE_OLD_KEYS";
        /// good samples an enrollment needs (1 to 10)
        voice_enroll_samples: EnrollSamples = "3", "MIXDOWN_VOICE_ENROLL_SAMPLES";
        /// rejected verifications that lock a user (0: never)
        voice_max_failures: u32 = "3", "MIXDOWN_VOICE_MAX_FAILURES";
        /// window of those rejections, and how long the lock lasts
        voice_lockout_secs: Seconds = "900", "MIXDOWN_VOICE_LOCKOUT_SECS";
        /// keep voice samples after processing instead of deleting them
        voice_keep_samples: bool = "false", "MIXDOWN_VOICE_KEEP_SAMPLES";
        /// base64 of the 32-byte key sealing the secret headers of http jobs (dev: generated in the data directory)
        secrets_key: Option<SealKey> = "", "MIXDOWN_SECRETS_KEY";
        /// earlier secrets keys, comma-separated: what they sealed still opens
        secrets_old_keys: OldSealKeys = "", "MIXDOWN_SECRETS_OLD_KEYS";
        /// live events kept per tenant at most, for reconnecting subscribers (at least 1)
        events_max_len: u64 = "100000", "MIXDOWN_EVENTS_MAX_LEN";
        /// how long live events stay replayable at least, unless the cap comes first
        events_replay_secs: Seconds = "300", "MIXDOWN_EVENTS_REPLAY_SECS";
    }
}

impl JobsSettings {
    /// The S3 bucket to use, if one is named; the endpoint and the
    /// credentials only make sense with it.
    pub fn s3(&self) -> Result<Option<S3Settings>, SettingsError> {
        let Some(bucket) = self.s3_bucket.clone() else {
            if self.s3_endpoint.is_some() {
                let message = "S3_ENDPOINT is set but S3_BUCKET is not: name the bucket";
                return Err(SettingsError::new(message));
            }
            return Ok(None);
        };
        let credentials = match (&self.aws_access_key_id, &self.aws_secret_access_key) {
            (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
            (None, None) => None,
            _ => {
                let message = "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither";
                return Err(SettingsError::new(message));
            }
        };
        Ok(Some(S3Settings {
            endpoint: self.s3_endpoint.clone(),
            bucket,
            region: self.s3_region.clone(),
            credentials,
        }))
    }

    /// When rejected verifications lock a user.
    pub fn lockout(&self) -> Lockout {
        Lockout {
            max_failures: self.voice_max_failures,
            window: self.voice_lockout_secs.get(),
        }
    }

    /// How much of each tenant's live events is kept.
    pub fn events_retention(&self) -> Retention {
        Retention {
            max_len: self.events_max_len.max(1),
            window: self.events_replay_secs.get(),
        }
    }

    /// The keys that seal and open voiceprints, once the current one is set.
    pub fn voice_keys(&self) -> Option<SealKeys> {
        let current = self.voice_key.clone()?;
        Some(SealKeys::new(current, self.voice_old_keys.0.clone()))
    }

    /// The keys that seal and open the secret headers of `http` jobs, once
    /// the current one is set.
    pub fn secrets_keys(&self) -> Option<SealKeys> {
        let current = self.secrets_key.clone()?;
        Some(SealKeys::new(current, self.secrets_old_keys.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use mixdown_settings::{Layers, Settings};

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<JobsSettings, String> {
        let layers = Layers::from_pairs(&[JobsSettings::FIELDS], pairs);
        layers.and_then(|l| l.build()).map_err(|e| e.to_string())
    }

    #[test]
    fn nothing_set_means_the_embedded_stores() {
        let s = load(&[]).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert!(s.database_url.is_none() && s.redis_url.is_none());
        assert!(s.s3().unwrap().is_none());
        assert_eq!(s.lockout().max_failures, 3);
        assert!(s.voice_keys().is_none());
        assert!(s.secrets_keys().is_none());
    }

    #[test]
    fn s3_needs_its_bucket_and_both_credentials() {
        let err = load(&[("S3_ENDPOINT", "http://s3")])
            .unwrap()
            .s3()
            .unwrap_err();
        assert!(err.to_string().contains("S3_BUCKET"), "{err}");
        let half = &[("S3_BUCKET", "b"), ("AWS_ACCESS_KEY_ID", "id")];
        assert!(load(half).unwrap().s3().is_err());
        let whole = load(&[("S3_BUCKET", "b"), ("S3_ENDPOINT", "http://s3")]).unwrap();
        assert_eq!(whole.s3().unwrap().unwrap().bucket, "b");
    }

    #[test]
    fn every_secret_is_masked_when_printed() {
        const KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
        const OLD: &str = "KysrKysrKysrKysrKysrKysrKysrKysrKysrKysrKys=";
        let s = load(&[
            ("DATABASE_URL", "postgres://u:pg-password@db/mixdown"),
            ("REDIS_URL", "redis://:redis-password@cache:6379"),
            ("S3_BUCKET", "media"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "aws-secret-value"),
            ("MIXDOWN_VOICE_KEY", KEY),
            ("MIXDOWN_VOICE_OLD_KEYS", OLD),
            ("MIXDOWN_SECRETS_KEY", KEY),
            ("MIXDOWN_SECRETS_OLD_KEYS", OLD),
        ])
        .unwrap();
        let s3 = s.s3().unwrap().unwrap();
        for shown in [format!("{s:?}"), format!("{s3:?}"), format!("{s3:#?}")] {
            for secret in [
                "pg-password",
                "redis-password",
                "aws-secret-value",
                "KioqKio",
                "KysrKys",
                "42, 42",
                "43, 43",
            ] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(shown.contains("***"), "{shown}");
        }
        assert_eq!(s3.credentials.unwrap().1.expose(), "aws-secret-value");
    }

    #[test]
    fn keys_parse_without_echoing_them() {
        const KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
        let s = load(&[
            ("MIXDOWN_VOICE_KEY", KEY),
            (
                "MIXDOWN_VOICE_OLD_KEYS",
                "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=, ",
            ),
        ])
        .unwrap();
        assert!(s.voice_keys().is_some());
        assert_eq!(s.voice_old_keys.0.len(), 1);
        let err = load(&[("MIXDOWN_VOICE_KEY", "c2VjcmV0LWJ1dC1zaG9ydA==")]).unwrap_err();
        assert!(
            err.contains("MIXDOWN_VOICE_KEY") && !err.contains("c2VjcmV0"),
            "{err}"
        );
        let s = load(&[
            ("MIXDOWN_SECRETS_KEY", KEY),
            ("MIXDOWN_SECRETS_OLD_KEYS", KEY),
        ]);
        assert!(s.unwrap().secrets_keys().is_some());
        let err = load(&[("MIXDOWN_SECRETS_OLD_KEYS", "c2VjcmV0")]).unwrap_err();
        assert!(
            err.contains("MIXDOWN_SECRETS_OLD_KEYS") && !err.contains("c2VjcmV0"),
            "{err}"
        );
        let err = load(&[("MIXDOWN_VOICE_ENROLL_SAMPLES", "11")]).unwrap_err();
        assert!(err.contains("between 1 and 10"), "{err}");
    }
}
