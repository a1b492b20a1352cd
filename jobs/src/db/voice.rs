//! Voice rows: sealed voiceprints, scored verifications (for the lockout)
//! and uploaded samples not yet deleted.

use base64::{Engine, engine::general_purpose::STANDARD};
use sqlx::{AssertSqlSafe, Row, any::AnyRow};

use super::{Conn, StoreError, rows::non_negative};
use crate::{
    ids::{JobId, TenantId},
    objects::ObjectKey,
    seal::Sealed,
    time::Timestamp,
    voice::{Lockout, UserId, VoiceUsage, VoiceprintSummary},
};

/// A voiceprint as stored: its summary in clear, the print sealed.
#[derive(Debug, Clone)]
pub struct StoredVoiceprint {
    /// What the print is.
    pub summary: VoiceprintSummary,
    /// The print, sealed.
    pub sealed: Sealed,
    /// When the user first enrolled.
    pub created_at: Timestamp,
    /// When the print was last written.
    pub updated_at: Timestamp,
    /// Verifications scored against the user's prints.
    pub usage: VoiceUsage,
}

/// The verdict of one scored verification.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredAttempt {
    /// The verification job.
    pub job_id: JobId,
    /// Whether the voice was accepted.
    pub accepted: bool,
    /// Its score.
    pub score: f64,
}

fn decode(column: &str, text: &str) -> Result<Vec<u8>, StoreError> {
    STANDARD
        .decode(text)
        .map_err(|e| StoreError::Corrupt(format!("{column} is not base64: {e}")))
}

/// `accepted` of a verification still being scored.
const IN_FLIGHT: i64 = -1;

fn sample_key(row: &AnyRow) -> Result<ObjectKey, StoreError> {
    let text: String = row.try_get("object_key")?;
    ObjectKey::new(text.clone())
        .ok_or_else(|| StoreError::Corrupt(format!("bad object key {text:?}")))
}

fn voiceprint_from_row(row: &AnyRow) -> Result<StoredVoiceprint, StoreError> {
    Ok(StoredVoiceprint {
        summary: VoiceprintSummary {
            model: row.try_get("model")?,
            samples: non_negative(row.try_get("samples")?),
            speech_seconds: row.try_get("speech_seconds")?,
        },
        sealed: Sealed {
            key_id: row.try_get("key_id")?,
            nonce: decode("nonce", &row.try_get::<String, _>("nonce")?)?,
            ciphertext: decode("ciphertext", &row.try_get::<String, _>("ciphertext")?)?,
        },
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        usage: VoiceUsage {
            verifications: u64::try_from(row.try_get::<i64, _>("verifications")?).unwrap_or(0),
            accepts: u64::try_from(row.try_get::<i64, _>("accepts")?).unwrap_or(0),
            last_verified_at: row
                .try_get::<Option<i64>, _>("last_verified_at")?
                .map(Timestamp::from_millis),
        },
    })
}

/// The voiceprints, verification history and waiting samples.
#[derive(Debug, Clone)]
pub struct VoiceRepo {
    db: Conn,
}

impl VoiceRepo {
    pub(super) fn new(db: Conn) -> Self {
        Self { db }
    }

    /// Writes the print of `user`, replacing an earlier one (whose first
    /// enrollment time is kept), unless the user was forgotten at or after
    /// `enrolling_since`: then nothing is written and the answer is false.
    pub async fn put_print(
        &self,
        tenant: TenantId,
        user: &UserId,
        summary: &VoiceprintSummary,
        sealed: &Sealed,
        enrolling_since: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO voiceprints (tenant_id, user_id, model, samples, speech_seconds, key_id, \
             nonce, ciphertext, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $9 WHERE NOT EXISTS ( \
             SELECT 1 FROM voice_forgotten WHERE tenant_id = $1 AND user_id = $2 \
             AND forgotten_at >= $10) \
             ON CONFLICT (tenant_id, user_id) DO UPDATE SET model = excluded.model, \
             samples = excluded.samples, speech_seconds = excluded.speech_seconds, \
             key_id = excluded.key_id, nonce = excluded.nonce, \
             ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
        )
        .bind(tenant.to_string())
        .bind(user.as_str().to_owned())
        .bind(summary.model.clone())
        .bind(i64::from(summary.samples))
        .bind(summary.speech_seconds)
        .bind(sealed.key_id.clone())
        .bind(STANDARD.encode(&sealed.nonce))
        .bind(STANDARD.encode(&sealed.ciphertext))
        .bind(self.db.clock.now().millis())
        .bind(enrolling_since.millis())
        .execute(&self.db.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The print of `user`, if the tenant has one.
    pub async fn print(
        &self,
        tenant: TenantId,
        user: &UserId,
    ) -> Result<Option<StoredVoiceprint>, StoreError> {
        let row = sqlx::query(
            "SELECT model, samples, speech_seconds, key_id, nonce, ciphertext, created_at, \
             updated_at, verifications, accepts, last_verified_at FROM voiceprints \
             WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(tenant.to_string())
        .bind(user.as_str().to_owned())
        .fetch_optional(&self.db.pool)
        .await?;
        row.as_ref().map(voiceprint_from_row).transpose()
    }

    /// Replaces the sealed bytes of a print still sealed under key `was`
    /// (moving it to the current key); a print written since is left alone.
    pub async fn reseal(
        &self,
        tenant: TenantId,
        user: &UserId,
        was: &str,
        sealed: &Sealed,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE voiceprints SET key_id = $1, nonce = $2, ciphertext = $3 \
             WHERE tenant_id = $4 AND user_id = $5 AND key_id = $6",
        )
        .bind(sealed.key_id.clone())
        .bind(STANDARD.encode(&sealed.nonce))
        .bind(STANDARD.encode(&sealed.ciphertext))
        .bind(tenant.to_string())
        .bind(user.as_str().to_owned())
        .bind(was.to_owned())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Deletes the print and the verification history of `user`, and notes
    /// the forgetting so an enrollment already running cannot write a print
    /// after it; true if there was a print or history.
    pub async fn forget_user(&self, tenant: TenantId, user: &UserId) -> Result<bool, StoreError> {
        sqlx::query(
            "INSERT INTO voice_forgotten (tenant_id, user_id, forgotten_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, user_id) DO UPDATE SET forgotten_at = excluded.forgotten_at",
        )
        .bind(tenant.to_string())
        .bind(user.as_str().to_owned())
        .bind(self.db.clock.now().millis())
        .execute(&self.db.pool)
        .await?;
        let mut forgot = false;
        for table in ["voiceprints", "voice_attempts"] {
            let sql = format!("DELETE FROM {table} WHERE tenant_id = $1 AND user_id = $2");
            let done = sqlx::query(AssertSqlSafe(sql))
                .bind(tenant.to_string())
                .bind(user.as_str().to_owned())
                .execute(&self.db.pool)
                .await?;
            forgot |= done.rows_affected() > 0;
        }
        Ok(forgot)
    }

    /// Notes that job `job` is about to score a sample of `user`, then says
    /// whether verifying `user` is locked, counting attempts still in flight
    /// as rejections: parallel verifications cannot get past the lock
    /// together. When locked, the note is taken back and the answer is the
    /// end of the lock.
    pub async fn begin_verification(
        &self,
        tenant: TenantId,
        user: &UserId,
        job: JobId,
        lockout: Lockout,
    ) -> Result<Option<Timestamp>, StoreError> {
        sqlx::query(
            "INSERT INTO voice_attempts (job_id, tenant_id, user_id, accepted, score, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (job_id) DO NOTHING",
        )
        .bind(job.to_string())
        .bind(tenant.to_string())
        .bind(user.as_str().to_owned())
        .bind(IN_FLIGHT)
        .bind(self.db.clock.now().millis())
        .execute(&self.db.pool)
        .await?;
        let locked = self.locked_until(tenant, user, lockout, Some(job)).await?;
        if locked.is_some() {
            self.abandon_verification(job).await?;
        }
        Ok(locked)
    }

    /// Records the verdict of job `job` and counts it on the user's print;
    /// recording it again changes nothing.
    pub async fn record_verification(
        &self,
        tenant: TenantId,
        user: &UserId,
        attempt: ScoredAttempt,
    ) -> Result<(), StoreError> {
        let now = self.db.clock.now().millis();
        let mut tx = self.db.begin().await?;
        let first = sqlx::query(
            "INSERT INTO voice_attempts (job_id, tenant_id, user_id, accepted, score, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_id) DO UPDATE \
             SET accepted = excluded.accepted, score = excluded.score \
             WHERE voice_attempts.accepted = $7",
        )
        .bind(attempt.job_id.to_string())
        .bind(tenant.to_string())
        .bind(user.as_str().to_owned())
        .bind(i64::from(attempt.accepted))
        .bind(attempt.score)
        .bind(now)
        .bind(IN_FLIGHT)
        .execute(&mut *tx)
        .await?;
        if first.rows_affected() == 1 {
            sqlx::query(
                "UPDATE voiceprints SET verifications = verifications + 1, \
                 accepts = accepts + $1, last_verified_at = $2 \
                 WHERE tenant_id = $3 AND user_id = $4",
            )
            .bind(i64::from(attempt.accepted))
            .bind(now)
            .bind(tenant.to_string())
            .bind(user.as_str().to_owned())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes back the note of a verification that ended without a verdict
    /// (a bad sample, a failure): only scored rejections lock.
    pub async fn abandon_verification(&self, job: JobId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM voice_attempts WHERE job_id = $1 AND accepted = $2")
            .bind(job.to_string())
            .bind(IN_FLIGHT)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Until when verifying `user` is locked: `max_failures` rejections
    /// (or verifications in flight) within the window, none followed by an
    /// acceptance, lock it until the oldest of them leaves the window.
    /// `None` when not locked.
    pub async fn verification_locked_until(
        &self,
        tenant: TenantId,
        user: &UserId,
        lockout: Lockout,
    ) -> Result<Option<Timestamp>, StoreError> {
        self.locked_until(tenant, user, lockout, None).await
    }

    async fn locked_until(
        &self,
        tenant: TenantId,
        user: &UserId,
        lockout: Lockout,
        except: Option<JobId>,
    ) -> Result<Option<Timestamp>, StoreError> {
        if lockout.max_failures == 0 {
            return Ok(None);
        }
        let since = self.db.clock.now().minus(lockout.window);
        let rows = sqlx::query(
            "SELECT created_at FROM voice_attempts \
             WHERE tenant_id = $1 AND user_id = $2 AND accepted <> 1 AND created_at > $3 \
             AND job_id <> $5 \
             AND created_at > COALESCE((SELECT MAX(created_at) FROM voice_attempts \
                 WHERE tenant_id = $1 AND user_id = $2 AND accepted = 1), 0) \
             ORDER BY created_at DESC LIMIT $4",
        )
        .bind(tenant.to_string())
        .bind(user.as_str().to_owned())
        .bind(since.millis())
        .bind(i64::from(lockout.max_failures))
        .bind(except.map(|j| j.to_string()).unwrap_or_default())
        .fetch_all(&self.db.pool)
        .await?;
        if rows.len() < lockout.max_failures as usize {
            return Ok(None);
        }
        let oldest: i64 = rows.last().map_or(Ok(0), |r| r.try_get("created_at"))?;
        Ok(Some(Timestamp::from_millis(oldest).plus(lockout.window)))
    }

    /// Notes uploaded samples of `user`, so forgetting the user finds them.
    pub async fn add_samples(
        &self,
        tenant: TenantId,
        user: &UserId,
        keys: &[ObjectKey],
    ) -> Result<(), StoreError> {
        let now = self.db.clock.now().millis();
        for key in keys {
            sqlx::query(
                "INSERT INTO voice_samples (object_key, tenant_id, user_id, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (object_key) DO NOTHING",
            )
            .bind(key.as_str().to_owned())
            .bind(tenant.to_string())
            .bind(user.as_str().to_owned())
            .bind(now)
            .execute(&self.db.pool)
            .await?;
        }
        Ok(())
    }

    /// Samples of `user` still in the object store.
    pub async fn samples(
        &self,
        tenant: TenantId,
        user: &UserId,
    ) -> Result<Vec<ObjectKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT object_key FROM voice_samples WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(tenant.to_string())
        .bind(user.as_str().to_owned())
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(sample_key).collect()
    }

    /// Whether a row lists the sample stored under `key`.
    pub async fn is_listed(&self, key: &ObjectKey) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM voice_samples WHERE object_key = $1")
            .bind(key.as_str().to_owned())
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Forgets samples whose objects were deleted.
    pub async fn remove_samples(&self, keys: &[ObjectKey]) -> Result<(), StoreError> {
        for key in keys {
            sqlx::query("DELETE FROM voice_samples WHERE object_key = $1")
                .bind(key.as_str().to_owned())
                .execute(&self.db.pool)
                .await?;
        }
        Ok(())
    }

    /// Forgets scored verifications older than `before`: past the lockout
    /// window they count for nothing. Returns how many went.
    pub async fn prune_attempts(&self, before: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM voice_attempts WHERE created_at < $1")
            .bind(before.millis())
            .execute(&self.db.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Drops the notes of users forgotten before `before`, once no
    /// enrollment that began earlier can still be running.
    pub async fn prune_forgotten_users(&self, before: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM voice_forgotten WHERE forgotten_at < $1")
            .bind(before.millis())
            .execute(&self.db.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Up to `limit` samples stored before `before` and still listed: left
    /// behind by jobs that never cleaned up (timed out, lost with a worker).
    pub async fn samples_before(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<ObjectKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT object_key FROM voice_samples WHERE created_at < $1 \
             ORDER BY created_at LIMIT $2",
        )
        .bind(before.millis())
        .bind(i64::from(limit))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(sample_key).collect()
    }
}
