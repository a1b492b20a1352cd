//! Uploads and tracks: an original streamed to the object store (as the
//! raw body, a multipart `file` part, or a presigned PUT then `complete`),
//! recorded with its ingest job in one transaction, and the track answer
//! with its state, metadata, loudness and expiring output URLs.

use mixdown_jobs::{
    codes::ErrorCode,
    db::{CompleteOutcome, Started},
    events::Event,
    ids::{TenantId, TrackId},
    model::Job,
    objects::ObjectKey,
    tracks::{
        NewTrack, TrackPresets, TrackRecord, TrackState, WaveformRecord, original_key, upload_key,
    },
    voice::UserId,
    workflow::track::start,
};
use mixdown_media::analysis::fingerprint::FINGERPRINT_VERSION;
use poem::{Body, Request, RequestBody, web::Data};
use poem_openapi::{
    ApiRequest, ApiResponse, OpenApi, impl_apirequest_for_payload,
    param::{Path, Query},
    payload::{Json, ParsePayload, Payload},
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::Type,
};

use crate::{
    auth::Tenant,
    error::ApiError,
    files::{upload_url_for, url_for},
    jobs::check_callback_url,
    state::AppState,
    upload::{FormSchema, StreamedForm, discard, file_schema, read_text, store_upload},
    views::{
        AcceptedTrackView, AnalysisView, DuplicateView, DuplicatesView, ErrorView, LoudnessView,
        MetadataView, OutputView, PresignView, TrackJobView, TrackView, WaveformLevelView,
        WaveformView,
    },
};

/// Longest title accepted, in bytes.
const MAX_TITLE: usize = 512;
/// Longest text part of an upload form (a preset list, a callback URL).
const MAX_TEXT_PART: usize = 4096;

/// The audio file itself as the request body: `audio/*` or
/// `application/octet-stream`, streamed as it arrives.
pub(crate) struct RawAudio(Body);

impl Payload for RawAudio {
    const CONTENT_TYPE: &'static str = "application/octet-stream";

    fn check_content_type(content_type: &str) -> bool {
        let mime = content_type.split(';').next().unwrap_or("").trim();
        mime.eq_ignore_ascii_case(Self::CONTENT_TYPE)
            || mime.to_ascii_lowercase().starts_with("audio/")
    }

    fn schema_ref() -> MetaSchemaRef {
        file_schema()
    }

    fn register(_registry: &mut Registry) {}
}

impl ParsePayload for RawAudio {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(body.take()?))
    }
}

impl_apirequest_for_payload!(RawAudio);

/// The parts of a multipart upload: a `file`, and optionally `title`,
/// `owner_id`, `presets` and `callback_url`.
pub(crate) struct UploadForm;

impl FormSchema for UploadForm {
    fn schema() -> MetaSchema {
        MetaSchema {
            required: vec!["file"],
            properties: vec![
                ("file", file_schema()),
                ("title", String::schema_ref()),
                ("owner_id", String::schema_ref()),
                ("presets", String::schema_ref()),
                ("callback_url", String::schema_ref()),
            ],
            ..MetaSchema::new("object")
        }
    }
}

/// An upload: the audio itself, or a form with a `file` part.
#[derive(ApiRequest)]
enum Upload {
    /// `multipart/form-data` with a `file` part and optional text parts.
    Form(StreamedForm<UploadForm>),
    /// The audio file as the body (`audio/*` or `application/octet-stream`).
    Raw(RawAudio),
}

/// The optional description of an upload, as the client sent it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields {
    title: Option<String>,
    owner_id: Option<String>,
    presets: Option<String>,
    callback_url: Option<String>,
}

impl Fields {
    /// Sets `name` from a form part, in place of the query's (checked all
    /// the same); a name that is no field is refused.
    pub(crate) fn set(&mut self, name: &str, value: String) -> Result<(), ApiError> {
        let slot = match name {
            "title" => &mut self.title,
            "owner_id" => &mut self.owner_id,
            "presets" => &mut self.presets,
            "callback_url" => &mut self.callback_url,
            _ => {
                let message = format!(
                    "unknown part {name:?}; expected file, title, owner_id, presets, callback_url"
                );
                return Err(ApiError::invalid_field(
                    ErrorCode::UnknownField,
                    name,
                    message,
                ));
            }
        };
        *slot = Some(value);
        Ok(())
    }

    /// The track these fields describe, or the field at fault.
    pub(crate) fn into_track(
        self,
        state: &AppState,
        tenant: TenantId,
    ) -> Result<NewTrack, ApiError> {
        let catalog = state.presets();
        let presets = match self.presets.as_deref() {
            Some(names) => TrackPresets::pick(catalog, names),
            None => TrackPresets::new(catalog.to_vec()),
        }
        .map_err(|m| ApiError::invalid_field(ErrorCode::InvalidPresets, "presets", m))?;
        if let Some(title) = &self.title
            && (title.len() > MAX_TITLE || title.chars().any(char::is_control))
        {
            let message = format!("must be at most {MAX_TITLE} bytes without control characters");
            return Err(ApiError::invalid_field(
                ErrorCode::InvalidField,
                "title",
                message,
            ));
        }
        let owner_id = self
            .owner_id
            .map(|o| UserId::parse(&o).map(String::from))
            .transpose()
            .map_err(|m| ApiError::invalid_field(ErrorCode::InvalidField, "owner_id", m))?;
        Ok(NewTrack {
            id: TrackId::new(),
            tenant_id: tenant,
            title: self.title,
            owner_id,
            callback_url: self.callback_url.map(check_callback_url).transpose()?,
            presets,
        })
    }
}

#[derive(ApiResponse)]
enum Accepted {
    /// Accepted: the track is processing.
    #[oai(status = 202)]
    Track(Json<AcceptedTrackView>),
}

/// The upload and track endpoints.
pub struct TracksApi;

#[OpenApi(prefix_path = "/v1")]
impl TracksApi {
    /// Uploads a track: the audio file as the body, or a multipart form
    /// with a `file` part. The body is streamed to the object store; a
    /// track that turns out not to be audio ends failed with the reason.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/uploads", method = "post")]
    async fn upload(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        /// Title of the track.
        title: Query<Option<String>>,
        /// The tenant's user who owns the track.
        owner_id: Query<Option<String>>,
        /// Comma-separated preset names (default: every preset).
        presets: Query<Option<String>>,
        /// Where to report the end of processing.
        callback_url: Query<Option<String>>,
        body: Upload,
    ) -> poem::Result<Accepted> {
        let fields = Fields {
            title: title.0,
            owner_id: owner_id.0,
            presets: presets.0,
            callback_url: callback_url.0,
        };
        let tenant = tenant.0;
        let (track, key) = match body {
            Upload::Raw(RawAudio(body)) => {
                let track = fields.into_track(&state, tenant)?;
                let key = original_key(tenant, track.id);
                let limit = state.settings.max_upload_bytes;
                let size = store_upload(&state, &key, body.into_async_read(), limit).await?;
                (track, (key, size))
            }
            Upload::Form(form) => {
                // The form's fields stand in for the query's, which must
                // hold all the same: a bad parameter is never ignored.
                fields.clone().into_track(&state, tenant)?;
                read_form(&state, tenant, fields, form).await?
            }
        };
        let (key, size) = key;
        if size == 0 {
            discard(&state, std::slice::from_ref(&key)).await;
            let message = "the upload holds no bytes";
            return Err(ApiError::invalid_field(ErrorCode::EmptyAudio, "file", message).into());
        }
        let start = start(&track);
        match state.stores.db.tracks.create(&track, size, &start).await {
            Ok(started) => Ok(Accepted::Track(Json(announce(&state, started).await?))),
            Err(err) => {
                discard(&state, &[key]).await;
                Err(ApiError::unavailable(err).into())
            }
        }
    }

    /// Starts a presigned upload: PUT the file to `put_url` before
    /// `expires_at`, then call `complete_url`. For large files, which then
    /// go straight to the object store.
    #[oai(path = "/uploads/presign", method = "post")]
    async fn presign(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        /// Title of the track.
        title: Query<Option<String>>,
        /// The tenant's user who owns the track.
        owner_id: Query<Option<String>>,
        /// Comma-separated preset names (default: every preset).
        presets: Query<Option<String>>,
        /// Where to report the end of processing.
        callback_url: Query<Option<String>>,
    ) -> poem::Result<Json<PresignView>> {
        let fields = Fields {
            title: title.0,
            owner_id: owner_id.0,
            presets: presets.0,
            callback_url: callback_url.0,
        };
        let track = fields.into_track(&state, tenant.0)?;
        let ttl = state.url_ttl();
        let expires = state.stores.clock().now().plus(ttl);
        let key = upload_key(tenant.0, track.id);
        let put_url = upload_url_for(&state, &key, ttl).await?;
        let created = state.stores.db.tracks.create_upload(&track, expires).await;
        created.map_err(ApiError::unavailable)?;
        Ok(Json(PresignView {
            upload_id: track.id.to_string(),
            put_url,
            method: "PUT".into(),
            expires_at: expires.to_rfc3339(),
            max_bytes: state.settings.max_upload_bytes,
            complete_url: format!("/v1/uploads/{}/complete", track.id),
        }))
    }

    /// Completes a presigned upload once its file is stored: processing
    /// starts. Completing it again answers the same track and job.
    #[oai(path = "/uploads/:upload_id/complete", method = "post")]
    async fn complete(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        upload_id: Path<String>,
    ) -> poem::Result<Accepted> {
        let id = TrackId::parse(&upload_id).ok_or_else(|| ApiError::not_found("upload"))?;
        Ok(Accepted::Track(Json(
            start_upload(&state, tenant.0, id).await?,
        )))
    }

    /// Reads a track: its state and progress, what ingest learned, loudness,
    /// and expiring URLs of its outputs once ready.
    #[oai(path = "/tracks/:track_id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        track_id: Path<String>,
    ) -> poem::Result<Json<TrackView>> {
        let id = TrackId::parse(&track_id).ok_or_else(|| ApiError::not_found("track"))?;
        let tracks = &state.stores.db.tracks;
        let track = tracks
            .get(tenant.0, id)
            .await
            .map_err(ApiError::unavailable)?;
        let track = track.ok_or_else(|| ApiError::not_found("track"))?;
        let workflow = match track.job_id {
            Some(job) => state.stores.db.jobs.get(tenant.0, job).await,
            None => Ok(None),
        };
        let workflow = workflow.map_err(ApiError::unavailable)?;
        let track_jobs = tracks.jobs(&track).await;
        let track_jobs = track_jobs.map_err(ApiError::unavailable)?;
        Ok(Json(track_view(&state, track, workflow, track_jobs).await?))
    }

    /// Lists the tenant's other tracks that hold the same recording as this
    /// one, earlier or later, found by the track's fingerprint in the
    /// tenant's index: with the time offset, the overlap and the share of
    /// fingerprint bits that differ.
    #[oai(path = "/tracks/:track_id/duplicates", method = "get")]
    async fn duplicates(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        track_id: Path<String>,
    ) -> poem::Result<Json<DuplicatesView>> {
        let id = TrackId::parse(&track_id).ok_or_else(|| ApiError::not_found("track"))?;
        let tracks = &state.stores.db.tracks;
        let track = tracks.get(tenant.0, id).await;
        let track = track.map_err(ApiError::unavailable)?;
        let track = track.ok_or_else(|| ApiError::not_found("track"))?;
        let hashes = tracks.fingerprint(tenant.0, id).await;
        let Some(hashes) = hashes.map_err(ApiError::unavailable)? else {
            let message = format!(
                "the track is {} and has no fingerprint yet; it has one once ready",
                track.state.as_str()
            );
            return Err(ApiError::new(ErrorCode::TrackNotReady, message).into());
        };
        let found = tracks.duplicates(tenant.0, id, &hashes).await;
        let found = found.map_err(ApiError::unavailable)?;
        Ok(Json(DuplicatesView {
            track_id: id.to_string(),
            fingerprint_version: FINGERPRINT_VERSION.to_owned(),
            duplicates: found.into_iter().map(DuplicateView::from).collect(),
        }))
    }
}

/// Starts processing an upload whose original is stored: its track and
/// ingest job, recorded once; starting it again answers the same ones.
pub(crate) async fn start_upload(
    state: &AppState,
    tenant: TenantId,
    id: TrackId,
) -> Result<AcceptedTrackView, ApiError> {
    let track = state.stores.db.tracks.get(tenant, id).await;
    let track = track.map_err(ApiError::unavailable)?;
    let track = track.ok_or_else(|| ApiError::not_found("upload"))?;
    let size = match (track.state, track.original_size) {
        (TrackState::Uploaded, _) => take_upload(state, &track).await?,
        (_, size) => size.unwrap_or_default(),
    };
    let new = NewTrack {
        id,
        tenant_id: tenant,
        title: track.title.clone(),
        owner_id: track.owner_id.clone(),
        callback_url: track.callback_url.clone(),
        presets: track.presets.clone(),
    };
    let outcome = state
        .stores
        .db
        .tracks
        .complete_upload(tenant, id, size, &start(&new))
        .await;
    match outcome.map_err(ApiError::unavailable)? {
        CompleteOutcome::Started(started) => announce(state, started).await,
        CompleteOutcome::AlreadyStarted(track, job) => Ok(AcceptedTrackView::new(&track, &job)),
        CompleteOutcome::Expired => {
            let upload = upload_key(tenant, id);
            discard(state, &[track.original_key, upload]).await;
            Err(ApiError::new(
                ErrorCode::UploadExpired,
                "the upload was not completed in time; start a new one",
            ))
        }
        CompleteOutcome::NotFound => Err(ApiError::not_found("upload")),
    }
}

/// Tells subscribers that the track is processing, then counts, tells and
/// pushes its jobs; the answer names its first job, ingest.
async fn announce(state: &AppState, started: Started) -> Result<AcceptedTrackView, ApiError> {
    let mut jobs = started.children;
    let ingest = jobs.first().cloned();
    let ingest = ingest.ok_or_else(|| ApiError::unavailable("a started track has no ingest"))?;
    jobs.push(started.workflow);
    let processing = Event::TrackState {
        track_id: started.track.id,
        state: started.track.state,
    };
    let tenant = started.track.tenant_id;
    state.stores.events.publish(tenant, &[processing]).await;
    state.stores.announce(&jobs).await;
    Ok(AcceptedTrackView::new(&started.track, &ingest))
}

/// Reads a multipart upload: the file goes to the store as it arrives; a
/// refusal deletes it again.
async fn read_form(
    state: &AppState,
    tenant: TenantId,
    mut fields: Fields,
    mut form: StreamedForm<UploadForm>,
) -> Result<(NewTrack, (ObjectKey, u64)), ApiError> {
    let id = TrackId::new();
    let key = original_key(tenant, id);
    let read = async {
        let mut size = None;
        while let Some(part) = form.next_part().await? {
            let name = part.name().unwrap_or("").to_owned();
            if name == "file" && size.is_none() {
                let limit = state.settings.max_upload_bytes;
                size = Some(store_upload(state, &key, part.into_async_read(), limit).await?);
            } else if name == "file" {
                let message = "only one file part is accepted";
                return Err(ApiError::invalid_field(
                    ErrorCode::InvalidField,
                    "file",
                    message,
                ));
            } else {
                let value = read_text(part, MAX_TEXT_PART).await?;
                fields.set(&name, value)?;
            }
        }
        let size = size.ok_or_else(|| {
            ApiError::invalid_field(ErrorCode::MissingField, "file", "the file part is missing")
        })?;
        let track = std::mem::take(&mut fields).into_track(state, tenant)?;
        Ok((NewTrack { id, ..track }, size))
    };
    match read.await {
        Ok((track, size)) => Ok((track, (key, size))),
        Err(err) => {
            discard(state, std::slice::from_ref(&key)).await;
            Err(err)
        }
    }
}

/// Takes a presigned upload's file: checks that something within the size
/// limit was stored, then moves it where the upload URL does not reach, so
/// a PUT after completion changes nothing a worker reads. Returns its size.
/// An upload moved by an earlier call that stopped before recording the
/// completion is found where it was moved to.
async fn take_upload(state: &AppState, track: &TrackRecord) -> Result<u64, ApiError> {
    let objects = &state.stores.objects;
    let upload = upload_key(track.tenant_id, track.id);
    let uploaded = objects.size(&upload).await.map_err(ApiError::unavailable)?;
    let Some(size) = uploaded else {
        let moved = objects.size(&track.original_key).await;
        return match moved.map_err(ApiError::unavailable)? {
            Some(size) if size > 0 => Ok(size),
            _ => Err(ApiError::new(
                ErrorCode::UploadMissing,
                "nothing was uploaded to put_url yet",
            )),
        };
    };
    let limit = state.settings.max_upload_bytes;
    match size {
        0 => Err(ApiError::new(
            ErrorCode::EmptyAudio,
            "the upload holds no bytes",
        )),
        n if n > limit => {
            discard(state, std::slice::from_ref(&upload)).await;
            Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("an upload exceeds {limit} bytes"),
            ))
        }
        _ => {
            let moved = objects.rename(&upload, &track.original_key).await;
            moved.map_err(ApiError::unavailable)?;
            Ok(size)
        }
    }
}

/// A track as clients read it: its stored state and error, its workflow's
/// progress, its outputs' URLs and its workflow's jobs.
async fn track_view(
    state: &AppState,
    track: TrackRecord,
    workflow: Option<Job>,
    jobs: Vec<Job>,
) -> Result<TrackView, ApiError> {
    let progress = match track.state {
        TrackState::Ready => 1.0,
        _ => workflow.map_or(0.0, |w| w.progress),
    };
    let ttl = state.url_ttl();
    let cover_url = match &track.cover_key {
        Some(key) => Some(url_for(state, key, ttl).await?),
        None => None,
    };
    let mut loudness = None;
    let mut outputs = Vec::new();
    let mut waveform = None;
    let mut analysis = None;
    if let Some(result) = track.result {
        analysis = result.analysis.map(|a| AnalysisView::from(*a));
        loudness = Some(LoudnessView::from(result.loudness));
        for output in result.outputs {
            let url = url_for(state, &output.main, ttl).await?;
            outputs.push(OutputView::new(output, url));
        }
        waveform = Some(waveform_view(state, result.waveform).await?);
    }
    Ok(TrackView {
        track_id: track.id.to_string(),
        state: track.state.as_str().to_owned(),
        progress,
        error: track.error.map(ErrorView::from),
        title: track.title,
        owner_id: track.owner_id,
        presets: track
            .presets
            .as_slice()
            .iter()
            .map(|p| p.name().to_owned())
            .collect(),
        metadata: track.metadata.map(|m| MetadataView::new(m, cover_url)),
        loudness,
        outputs,
        waveform,
        analysis,
        duplicate_of: track.duplicate_of.map(|t| t.to_string()),
        jobs: jobs.iter().map(TrackJobView::from).collect(),
        urls_expire_at: state.stores.clock().now().plus(ttl).to_rfc3339(),
        created_at: track.created_at.to_rfc3339(),
        updated_at: track.updated_at.to_rfc3339(),
    })
}

async fn waveform_view(state: &AppState, w: WaveformRecord) -> Result<WaveformView, ApiError> {
    let ttl = state.url_ttl();
    let mut levels = Vec::with_capacity(w.levels.len());
    for level in &w.levels {
        levels.push(WaveformLevelView {
            zoom: level.zoom,
            dat_url: url_for(state, &level.dat, ttl).await?,
        });
    }
    Ok(WaveformView {
        dat_url: levels
            .first()
            .map(|l| l.dat_url.clone())
            .unwrap_or_default(),
        json_url: url_for(state, &w.json, ttl).await?,
        levels,
        summary: w.summary,
    })
}
