//! The `track` job: carries out what the track workflow decides
//! (`mixdown_jobs::workflow::track`). It is the only writer of a track's
//! state once processing has begun.

use mixdown_jobs::{
    codes::ErrorCode,
    events::Event,
    ids::TrackId,
    model::{JobError, NewJob},
    social::{NewActivity, UserId},
    tracks::{TrackOutcome, TrackPayload, TrackReady, TrackRecord, TrackState},
    workflow::{
        Next,
        track::{Decision, decide},
    },
};
use serde_json::json;
use tracing::{info, warn};

use super::{TrackError, load_track};
use crate::handlers::JobContext;

/// Publishes `{"verb": "publish", "object_type": "track"}` for the ready
/// track's owner, once however often the step runs (an activity is
/// recorded once per actor, verb and object).
async fn publish(ctx: &JobContext, track: &TrackRecord) -> Result<(), TrackError> {
    let Some(owner) = &track.owner_id else {
        return Ok(());
    };
    let Ok(actor_id) = UserId::parse(owner) else {
        warn!(
            owner,
            "the track's owner is not a user id a feed takes; nothing published"
        );
        return Ok(());
    };
    let tenant = ctx.job.tenant_id;
    let new = NewActivity {
        tenant_id: tenant,
        actor_id,
        verb: "publish".into(),
        object_type: "track".into(),
        object_id: track.id.to_string(),
        occurred_at: ctx.stores.clock().now(),
        data: json!({ "title": track.title }),
    };
    let job = |payload| NewJob::with_defaults(tenant, payload);
    ctx.stores.publish(&new, job).await?;
    Ok(())
}

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
            tell(ctx, track.id, TrackState::Ready);
            info!(outputs, "track ready");
            if ctx.tracks.publish_ready {
                publish(ctx, &track).await?;
            }
            Ok(TrackReady {
                track_id: track.id,
                outputs,
            }
            .into())
        }
        Decision::Failed(error) => {
            let failed = TrackOutcome::Failed(error.clone());
            db.tracks.finish(tenant, track.id, &failed).await?;
            tell(ctx, track.id, TrackState::Failed);
            Err(TrackError::Step(error))
        }
        Decision::Cancelled => {
            let error = JobError::new(ErrorCode::Cancelled, "processing was cancelled");
            let failed = TrackOutcome::Failed(error);
            db.tracks.finish(tenant, track.id, &failed).await?;
            tell(ctx, track.id, TrackState::Failed);
            Err(TrackError::Cancelled)
        }
    }
}

/// Tells subscribers the track's end just stored.
fn tell(ctx: &JobContext, track_id: TrackId, state: TrackState) {
    let event = Event::TrackState { track_id, state };
    ctx.stores.events.post(&[(ctx.job.tenant_id, event)]);
}
