//! The `track` job: carries out what the track workflow decides
//! (`mixdown_jobs::workflow::track`). It is the only writer of a track's
//! state once processing has begun.

use mixdown_jobs::{
    codes::ErrorCode,
    model::JobError,
    tracks::{TrackOutcome, TrackPayload, TrackReady},
    workflow::{
        Next,
        track::{Decision, decide},
    },
};
use tracing::info;

use super::{TrackError, load_track};
use crate::handlers::JobContext;

pub(crate) async fn advance(p: &TrackPayload, ctx: &JobContext) -> Result<Next, TrackError> {
    let (tenant, db) = (ctx.job.tenant_id, &ctx.stores.db);
    let track = load_track(ctx, p.track_id).await?;
    let children = db.jobs.children(ctx.job.id).await?;
    match decide(&children, ctx.cancel.is_cancelled()) {
        Decision::Transcode(described, child) => {
            let cover = described.cover_key.as_ref();
            db.tracks
                .describe(tenant, track.id, &described.metadata, cover)
                .await?;
            Ok(Next::Await(vec![child]))
        }
        Decision::Wait => Ok(Next::Await(Vec::new())),
        Decision::Ready(made) => {
            let outputs = made.outputs.len();
            let ready = TrackOutcome::Ready(made);
            db.tracks.finish(tenant, track.id, &ready).await?;
            info!(outputs, "track ready");
            Ok(TrackReady {
                track_id: track.id,
                outputs,
            }
            .into())
        }
        Decision::Failed(error) => {
            let failed = TrackOutcome::Failed(error.clone());
            db.tracks.finish(tenant, track.id, &failed).await?;
            Err(TrackError::Step(error))
        }
        Decision::Cancelled => {
            let error = JobError::new(ErrorCode::Cancelled, "processing was cancelled");
            let failed = TrackOutcome::Failed(error);
            db.tracks.finish(tenant, track.id, &failed).await?;
            Err(TrackError::Cancelled)
        }
    }
}
