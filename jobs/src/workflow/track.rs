//! The track workflow: `ingest → transcode (+ later renditions) → finalize`.
//!
//! 1. **Start** (an upload, or a presigned upload's `complete`): the track
//!    is recorded `processing` with its `track` job, which waits from the
//!    start for its first child, `ingest`.
//! 2. **Ingest** proves the original is audio and describes it. When it has
//!    ended well, the `track` job stores what it learned on the track and
//!    records the `transcode` child.
//! 3. **Transcode** decodes the original once into every output of the
//!    track's presets. Renditions asked for once the track is ready are
//!    `transcode` jobs of their own, outside the workflow: they add to the
//!    ready track's outputs, and their failure leaves the track ready.
//! 4. **Finalize**: once every child has ended, the `track` job stores the
//!    track's end in one write — `ready` with its outputs, loudness and
//!    waveform, or `failed` with the error of the job that failed (code
//!    `cancelled` for a cancelled one) — and ends the same way itself.
//!
//! Client-visible state: the track's stored state, `uploaded → processing →
//! ready | failed`, and the `track` job's progress (ingest 5 %, transcoding
//! 95 %). Retrying a failed job of the track, or the `track` job itself,
//! reopens the workflow: the track is `processing` again until the next
//! finalize. Reported: the `track` job's end, to the track's callback URL,
//! as `track.ready` or `track.failed`; its children report nothing.

use crate::{
    callbacks::TrackReport,
    codes::ErrorCode,
    kind::JobKind,
    model::{Job, JobError, JobState, NewJob},
    payload::JobPayload,
    time::Timestamp,
    tracks::{
        IngestResult, NewTrack, TrackPayload, TrackRecord, TrackResult, TrackState,
        TranscodePayload, TranscodeResult,
    },
    workflow::{Child, Start, Weight},
};

/// Ingest reads and hashes the original: about a twentieth of the work.
const INGEST: Weight = weight(1.0);
/// Transcoding decodes once and encodes every preset: the rest.
const TRANSCODE: Weight = weight(19.0);
/// Everything a track plans: one ingest and one transcode.
const PLANNED: Weight = weight(20.0);

const fn weight(w: f64) -> Weight {
    match Weight::new(w) {
        Some(w) => w,
        None => panic!("weights are positive"),
    }
}

/// The workflow of a track whose original is stored: its `track` job,
/// reporting to the track's callback URL, waiting for `ingest`.
pub fn start(track: &NewTrack) -> Start {
    let payload = JobPayload::Track(TrackPayload { track_id: track.id });
    Start {
        parent: NewJob {
            callback_url: track.callback_url.clone(),
            ..NewJob::with_defaults(track.tenant_id, payload)
        },
        planned: PLANNED,
        children: vec![Child {
            step: "ingest".into(),
            payload: JobPayload::Ingest(TrackPayload { track_id: track.id }),
            weight: INGEST,
        }],
    }
}

/// What the `track` job does next, given its children.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Ingest passed: store what it learned on the track, then transcode.
    Transcode(Box<IngestResult>, Child),
    /// A child was sent back to the queue meanwhile (retried by hand):
    /// wait for it again.
    Wait,
    /// Every job ended well: the track is ready with these outputs.
    Ready(TrackResult),
    /// A job failed or was cancelled: the track failed with its error.
    Failed(JobError),
    /// The workflow itself was cancelled: the track failed as cancelled.
    Cancelled,
}

/// What follows, given every child the `track` job has (in the order they
/// were recorded) and whether the workflow was asked to stop.
pub fn decide(children: &[Job], cancel_requested: bool) -> Decision {
    if cancel_requested {
        return Decision::Cancelled;
    }
    if children.iter().any(|c| !c.state.is_final()) {
        return Decision::Wait;
    }
    if let Some(ended) = children.iter().find(|c| c.state != JobState::Succeeded) {
        return Decision::Failed(end_error(ended));
    }
    let transcodes: Vec<&Job> = children
        .iter()
        .filter(|c| c.kind == JobKind::Transcode)
        .collect();
    match children.iter().find(|c| c.kind == JobKind::Ingest) {
        None => Decision::Failed(internal("the track has no ingest job")),
        Some(ingest) if transcodes.is_empty() => match result_of::<IngestResult>(ingest) {
            Ok(described) => {
                let child = Child {
                    step: "transcode".into(),
                    payload: JobPayload::Transcode(TranscodePayload::Workflow(TrackPayload {
                        track_id: described.track_id,
                    })),
                    weight: TRANSCODE,
                };
                Decision::Transcode(Box::new(described), child)
            }
            Err(error) => Decision::Failed(error),
        },
        Some(_) => ready(&transcodes),
    }
}

/// The track made of every transcode's outputs, in the order they were
/// recorded; loudness and peaks are the first's (all decode one original).
fn ready(transcodes: &[&Job]) -> Decision {
    let mut made: Option<TrackResult> = None;
    for job in transcodes {
        let result = match result_of::<TranscodeResult>(job) {
            Ok(result) => result.made,
            Err(error) => return Decision::Failed(error),
        };
        match &mut made {
            Some(track) => track.outputs.extend(result.outputs),
            None => made = Some(result),
        }
    }
    made.map_or_else(
        || Decision::Failed(internal("the track has no transcode job")),
        Decision::Ready,
    )
}

fn result_of<T: serde::de::DeserializeOwned>(job: &Job) -> Result<T, JobError> {
    let value = job.result.clone().unwrap_or_default();
    serde_json::from_value(value).map_err(|e| {
        internal(&format!(
            "{} job {} left no readable result: {e}",
            job.kind, job.id
        ))
    })
}

fn internal(message: &str) -> JobError {
    JobError::new(ErrorCode::InternalError, message)
}

/// The error a track takes from the job that ended it.
fn end_error(job: &Job) -> JobError {
    match (&job.error, job.state) {
        (Some(error), JobState::Failed) => error.clone(),
        _ => JobError::new(
            ErrorCode::Cancelled,
            format!("the {} job was cancelled", job.kind),
        ),
    }
}

/// The report of `track`'s end, sent when its `track` job has ended.
pub fn report(track: &TrackRecord, job: &Job) -> TrackReport {
    let ready = track.state == TrackState::Ready;
    TrackReport {
        event: if ready { "track.ready" } else { "track.failed" },
        track_id: track.id,
        state: if ready { "ready" } else { "failed" },
        error: track.error.clone(),
        job_id: job.id,
        finished_at: job.finished_at.map(Timestamp::to_rfc3339),
        status_url: format!("/v1/tracks/{}", track.id),
    }
}

#[cfg(test)]
mod tests;
