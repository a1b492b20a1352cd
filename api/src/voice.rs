//! The voice API: enrollments and verifications as jobs whose samples are
//! streamed to the object store, the voiceprint's summary, and forgetting a
//! user. Verification is refused while a user is locked out.

use mixdown_jobs::{
    codes::ErrorCode,
    ids::TenantId,
    model::NewJob,
    objects::ObjectKey,
    payload::JobPayload,
    voice::{
        MAX_ENROLL_SAMPLES, SampleKeys, UserId, VoiceEnrollPayload, VoiceVerifyPayload,
        new_sample_key,
    },
};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::Path,
    payload::Json,
    registry::{MetaSchema, MetaSchemaRef},
    types::Type,
};
use tracing::warn;

use crate::{
    auth::Tenant,
    error::ApiError,
    state::AppState,
    upload::{FormSchema, StreamedForm, discard, file_schema, read_text, store_upload},
    views::AcceptedView,
};

/// A voiceprint as clients see it: never the audio or the embedding.
#[derive(Debug, Clone, Object)]
pub struct VoiceprintView {
    /// The tenant's user.
    pub user_id: String,
    /// Version of the model that made the print.
    pub model: String,
    /// Enrollment samples.
    pub samples: u32,
    /// Speech in the enrollment, seconds.
    pub speech_seconds: f64,
    /// When the user first enrolled.
    pub created_at: String,
    /// When the print was last written.
    pub updated_at: String,
    /// Verifications scored since the user first enrolled.
    pub verifications: u64,
    /// Of them, accepted.
    pub accepts: u64,
    /// When the last verification was scored; absent before the first.
    pub last_verified_at: Option<String>,
}

#[derive(ApiResponse)]
enum Queued {
    /// Accepted: the job is queued.
    #[oai(status = 202)]
    Accepted(Json<AcceptedView>),
}

#[derive(ApiResponse)]
enum Forgotten {
    /// The voiceprint, its verification history and any stored samples are gone.
    #[oai(status = 204)]
    Gone,
}

/// The parts of an enrollment: `user_id`, then one or more `sample` files.
pub(crate) struct EnrollmentForm;

impl FormSchema for EnrollmentForm {
    fn schema() -> MetaSchema {
        let samples = MetaSchema {
            items: Some(Box::new(file_schema())),
            max_items: Some(MAX_ENROLL_SAMPLES),
            ..MetaSchema::new("array")
        };
        form_schema(MetaSchemaRef::Inline(Box::new(samples)))
    }
}

/// The parts of a verification: `user_id` and one `sample` file.
pub(crate) struct VerificationForm;

impl FormSchema for VerificationForm {
    fn schema() -> MetaSchema {
        form_schema(file_schema())
    }
}

fn form_schema(sample: MetaSchemaRef) -> MetaSchema {
    MetaSchema {
        required: vec!["user_id", "sample"],
        properties: vec![("user_id", String::schema_ref()), ("sample", sample)],
        ..MetaSchema::new("object")
    }
}

/// The voice endpoints.
pub struct VoiceApi;

#[OpenApi(prefix_path = "/v1")]
impl VoiceApi {
    /// Enrolls a user's voice from uploaded samples (multipart: `user_id`,
    /// then `sample` files; audio in any common format). The job's result is
    /// the voiceprint's summary; a sample that fails a quality gate fails the
    /// job with the gate's code and names the sample (counting from 0).
    #[oai(path = "/voice/enrollments", method = "post")]
    async fn enroll(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        form: StreamedForm<EnrollmentForm>,
    ) -> poem::Result<Queued> {
        let (user, keys) = read_samples(&state, tenant.0, form, MAX_ENROLL_SAMPLES).await?;
        let min = state.fleet.voice_enroll_samples.get();
        // `read_samples` took at most MAX_ENROLL_SAMPLES, so only the minimum can fail.
        let samples = SampleKeys::try_from(keys.clone())
            .ok()
            .filter(|_| keys.len() >= min);
        let Some(samples) = samples else {
            discard(&state, &keys).await;
            let got = keys.len();
            let message = format!("an enrollment needs at least {min} samples, got {got}");
            return Err(
                ApiError::invalid_field(ErrorCode::NotEnoughSamples, "sample", message).into(),
            );
        };
        let payload = JobPayload::VoiceEnroll(VoiceEnrollPayload {
            user_id: user.clone(),
            samples,
        });
        Ok(submit(&state, tenant.0, &user, &keys, payload).await?)
    }

    /// Verifies that an uploaded sample is the user's voice (multipart:
    /// `user_id`, `sample`). The job's result is `{score, threshold,
    /// accepted, cosine, matched, quality}`: the score is a calibrated
    /// log-likelihood ratio, so one threshold holds in every condition, and
    /// `quality` shows the measures it was weighed by. After too many
    /// rejections the user is locked: 429
    /// `verification_locked` with `Retry-After`.
    #[oai(path = "/voice/verifications", method = "post")]
    async fn verify(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        form: StreamedForm<VerificationForm>,
    ) -> poem::Result<Queued> {
        let (user, keys) = read_samples(&state, tenant.0, form, 1).await?;
        if let Err(err) = check_unlocked(&state, tenant.0, &user).await {
            discard(&state, &keys).await;
            return Err(err.into());
        }
        let payload = JobPayload::VoiceVerify(VoiceVerifyPayload {
            user_id: user.clone(),
            sample: keys[0].clone(),
        });
        Ok(submit(&state, tenant.0, &user, &keys, payload).await?)
    }

    /// The user's voiceprint: model, samples, speech, times and how often it was verified.
    #[oai(path = "/voice/:user_id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        user_id: Path<String>,
    ) -> poem::Result<Json<VoiceprintView>> {
        let user = parse_user(&user_id)?;
        let stored = state.stores.db.voice.print(tenant.0, &user).await;
        let stored = stored.map_err(ApiError::unavailable)?;
        let stored = stored.ok_or_else(|| ApiError::not_found("voiceprint"))?;
        Ok(Json(VoiceprintView {
            user_id: user.to_string(),
            model: stored.summary.model,
            samples: stored.summary.samples,
            speech_seconds: stored.summary.speech_seconds,
            created_at: stored.created_at.to_rfc3339(),
            updated_at: stored.updated_at.to_rfc3339(),
            verifications: stored.usage.verifications,
            accepts: stored.usage.accepts,
            last_verified_at: stored.usage.last_verified_at.map(|t| t.to_rfc3339()),
        }))
    }

    /// Forgets the user's voice: voiceprint, verification history and any
    /// samples still stored.
    #[oai(path = "/voice/:user_id", method = "delete")]
    async fn forget(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        user_id: Path<String>,
    ) -> poem::Result<Forgotten> {
        let user = parse_user(&user_id)?;
        let voice = &state.stores.db.voice;
        let keys = voice.samples(tenant.0, &user).await;
        let keys = keys.map_err(ApiError::unavailable)?;
        for key in &keys {
            state
                .stores
                .objects
                .delete(key)
                .await
                .map_err(ApiError::unavailable)?;
        }
        voice
            .remove_samples(&keys)
            .await
            .map_err(ApiError::unavailable)?;
        let forgot = voice.forget_user(tenant.0, &user).await;
        if forgot.map_err(ApiError::unavailable)? || !keys.is_empty() {
            Ok(Forgotten::Gone)
        } else {
            Err(ApiError::not_found("voiceprint").into())
        }
    }
}

/// User ids that do not parse cannot exist: the same 404 as an unknown user.
fn parse_user(text: &str) -> Result<UserId, ApiError> {
    UserId::parse(text).map_err(|_| ApiError::not_found("voiceprint"))
}

/// Reads the form, storing each sample as it arrives; on any refusal the
/// samples stored so far are deleted again.
async fn read_samples<F>(
    state: &AppState,
    tenant: TenantId,
    mut form: StreamedForm<F>,
    max: usize,
) -> Result<(UserId, Vec<ObjectKey>), ApiError> {
    let mut keys = Vec::new();
    let read = read_parts(state, tenant, &mut form, max, &mut keys).await;
    let form = read.and_then(|user| {
        let user = user.ok_or_else(|| missing("user_id"))?;
        if keys.is_empty() {
            return Err(missing("sample"));
        }
        Ok(user)
    });
    match form {
        Ok(user) => Ok((user, keys)),
        Err(err) => {
            discard(state, &keys).await;
            Err(err)
        }
    }
}

async fn read_parts<F>(
    state: &AppState,
    tenant: TenantId,
    form: &mut StreamedForm<F>,
    max: usize,
    keys: &mut Vec<ObjectKey>,
) -> Result<Option<UserId>, ApiError> {
    let mut user = None;
    let limit = state.settings.voice_max_sample_bytes;
    while let Some(part) = form.next_part().await? {
        match part.name() {
            Some("user_id") if user.is_none() => {
                let text = read_text(part, UserId::MAX_LEN).await?;
                let parsed = UserId::parse(&text)
                    .map_err(|m| ApiError::invalid_field(ErrorCode::InvalidField, "user_id", m))?;
                user = Some(parsed);
            }
            Some("sample") if keys.len() < max => {
                let key = new_sample_key(tenant);
                store_upload(state, &key, part.into_async_read(), limit).await?;
                keys.push(key);
            }
            Some("sample") => {
                let message = format!("at most {max} sample parts");
                return Err(ApiError::invalid_field(
                    ErrorCode::TooManySamples,
                    "sample",
                    message,
                ));
            }
            Some("user_id") => {
                let message = "user_id is given more than once";
                return Err(ApiError::invalid_field(
                    ErrorCode::InvalidField,
                    "user_id",
                    message,
                ));
            }
            other => {
                let name = other.unwrap_or("").to_owned();
                let message = format!("unknown part {name:?}; expected user_id and sample");
                return Err(ApiError::invalid_field(
                    ErrorCode::UnknownField,
                    &name,
                    message,
                ));
            }
        }
    }
    Ok(user)
}

fn missing(field: &str) -> ApiError {
    ApiError::invalid_field(
        ErrorCode::MissingField,
        field,
        format!("the {field} part is missing"),
    )
}

/// 429 while the user is locked out of verification.
async fn check_unlocked(state: &AppState, tenant: TenantId, user: &UserId) -> Result<(), ApiError> {
    let lockout = state.fleet.lockout();
    let locked = state
        .stores
        .db
        .voice
        .verification_locked_until(tenant, user, lockout)
        .await;
    match locked.map_err(ApiError::unavailable)? {
        None => Ok(()),
        Some(until) => {
            let now = state.stores.clock().now();
            let wait = until.since(now).as_secs_f64().ceil().max(1.0) as u64;
            let message = format!(
                "too many rejected verifications of {user}; try again after {}",
                until.to_rfc3339()
            );
            Err(ApiError::new(ErrorCode::VerificationLocked, message).retry_after(wait))
        }
    }
}

/// Notes the samples for their user, then accepts the job; if either write
/// fails, the samples and their rows go again.
async fn submit(
    state: &AppState,
    tenant: TenantId,
    user: &UserId,
    keys: &[ObjectKey],
    payload: JobPayload,
) -> Result<Queued, ApiError> {
    let voice = &state.stores.db.voice;
    let new = NewJob::with_defaults(tenant, payload);
    let accepted = match voice.add_samples(tenant, user, keys).await {
        Ok(()) => state.stores.submit(&new).await,
        Err(err) => Err(err),
    };
    match accepted {
        Ok(inserted) => Ok(Queued::Accepted(Json(AcceptedView::from(&inserted.job)))),
        Err(err) => {
            if let Err(e) = voice.remove_samples(keys).await {
                warn!(error = %e, "rows of rejected samples not removed");
            }
            discard(state, keys).await;
            Err(ApiError::unavailable(err))
        }
    }
}
