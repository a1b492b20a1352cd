//! Jobs that work on a ready track's original: renditions (`transcode` with
//! presets, through `POST /v1/jobs` or `POST /v1/tracks/{id}/renditions`) and
//! waveform files. Both are admitted only for the tenant's own ready track;
//! a waveform job's result shows its file as a URL signed when it is read.

use mixdown_jobs::{
    codes::ErrorCode,
    ids::{TenantId, TrackId},
    kind::JobKind,
    model::{Job, NewJob},
    payload::JobPayload,
    tracks::{RenditionsRequest, TrackRecord, TrackState, TranscodePayload, WaveformResult},
};
use mixdown_media::transcode::Preset;
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Header, Path},
    payload::Json,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    auth::Tenant,
    error::ApiError,
    files::url_for,
    jobs::{JobOptions, Submitted},
    payload::StrictJson,
    state::AppState,
    views::{AcceptedView, JobView},
};

/// Renditions to add to a ready track.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
pub struct RenditionsBody {
    /// Names of catalogue presets, 1 to 16, each once. A preset the track
    /// has an output of already is skipped, never made twice.
    presets: Vec<String>,
}

/// The renditions endpoint.
pub struct RenditionsApi;

#[OpenApi(prefix_path = "/v1")]
impl RenditionsApi {
    /// Adds renditions to a ready track from its original, in one decode: a
    /// `transcode` job, as `POST /v1/jobs` submits with kind `transcode`.
    /// The track stays ready meanwhile, whatever becomes of the job.
    #[oai(path = "/tracks/:track_id/renditions", method = "post")]
    async fn add(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        track_id: Path<String>,
        /// Repeating a request with the same key returns the first job.
        #[oai(name = "Idempotency-Key")]
        key: Header<Option<String>>,
        body: StrictJson<RenditionsBody>,
    ) -> poem::Result<Submitted> {
        let track_id = TrackId::parse(&track_id).ok_or_else(|| ApiError::not_found("track"))?;
        let request =
            serde_json::json!({"track_id": track_id.to_string(), "presets": body.0.presets});
        let options = JobOptions::from_key(key.0, &request)?;
        let request = RenditionsRequest {
            track_id,
            presets: body.0.presets,
        };
        let payload = renditions(state.presets(), request, "presets")?;
        let (job, created) = submit(&state, options.job(tenant.0, payload)).await?;
        let view = Json(AcceptedView::from(&job));
        Ok(if created {
            Submitted::Accepted(view)
        } else {
            Submitted::Existing(view)
        })
    }
}

/// The payload of a renditions job: names looked up in `catalog`, a bad one
/// named as an item of `list` (`presets[1]`).
pub(crate) fn renditions(
    catalog: &[Preset],
    request: RenditionsRequest,
    list: &str,
) -> Result<JobPayload, ApiError> {
    let payload = request.resolve(catalog).map_err(|e| {
        ApiError::invalid_field(ErrorCode::InvalidPresets, &e.field(list), e.message)
    })?;
    Ok(JobPayload::Transcode(TranscodePayload::Renditions(payload)))
}

/// Records a client's job once it is admitted (see [`admit`]). Answers the
/// job and whether it is new.
pub(crate) async fn submit(state: &AppState, new: NewJob) -> Result<(Job, bool), ApiError> {
    admit(state, &new).await?;
    let inserted = state.intake.submit(new).await;
    let inserted = inserted.map_err(ApiError::from_store)?;
    Ok((inserted.job, inserted.created))
}

/// Whether a client's job may be recorded as far as the database tells: a
/// job made from a track (renditions, waveform, analysis) needs the tenant's
/// own ready track.
pub(crate) async fn admit(state: &AppState, new: &NewJob) -> Result<(), ApiError> {
    let tenant = new.tenant_id;
    match &new.payload {
        JobPayload::Transcode(TranscodePayload::Renditions(p)) => {
            ready_track(state, tenant, p.track_id).await?;
        }
        JobPayload::Analyze(p) => {
            ready_track(state, tenant, p.track_id).await?;
        }
        JobPayload::Waveform(p) => {
            let track = ready_track(state, tenant, p.track_id()).await?;
            if let Some(audio) = &track.metadata {
                p.fits(audio)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The tenant's track `id`, if it is ready; another tenant's is not found.
async fn ready_track(
    state: &AppState,
    tenant: TenantId,
    id: TrackId,
) -> Result<TrackRecord, ApiError> {
    let track = state.stores.db.tracks.get(tenant, id).await;
    let track = track.map_err(ApiError::unavailable)?;
    let track = track.ok_or_else(|| ApiError::not_found("track"))?;
    if track.state != TrackState::Ready {
        let state = track.state.as_str();
        return Err(ApiError::new(
            ErrorCode::TrackNotReady,
            format!(
                "the track is {state}; renditions, waveforms and analyses are made once it is ready"
            ),
        ));
    }
    Ok(track)
}

/// A job as clients read it. A waveform job's stored result names its file
/// by key; the answer gives a URL to it instead, valid for `url_ttl_secs`
/// from this read, so a job read later still leads to its file.
pub(crate) async fn job_view(state: &AppState, job: Job) -> Result<JobView, ApiError> {
    let file = match (job.kind, &job.result) {
        (JobKind::Waveform, Some(result)) => {
            serde_json::from_value::<WaveformResult>(result.clone()).ok()
        }
        _ => None,
    };
    let mut view = JobView::from(job);
    if let Some(file) = file {
        let ttl = state.url_ttl();
        let url = url_for(state, &file.key, ttl).await?;
        let expires_at = state.stores.clock().now().plus(ttl).to_rfc3339();
        view.result = Some(json!({
            "url": url,
            "content_type": file.content_type,
            "bytes": file.bytes,
            "url_expires_at": expires_at,
        }));
    }
    Ok(view)
}
