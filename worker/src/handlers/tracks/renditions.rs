//! Renditions added to a ready track: one decode of its original into every
//! asked preset it has no output of yet, stored beside its outputs and added
//! to them. A preset the track has already is skipped, never made twice.

use mixdown_jobs::{
    db::AddedOutputs,
    tracks::{RenditionsPayload, RenditionsResult},
};
use mixdown_media::transcode::Preset;
use tracing::info;

use super::{
    TrackError, ready_track,
    transcode::{Measure, encode, store_outputs},
};
use crate::handlers::JobContext;

pub(crate) async fn run(
    p: &RenditionsPayload,
    ctx: &JobContext,
) -> Result<RenditionsResult, TrackError> {
    let track = ready_track(ctx, p.track_id).await?;
    let had = track.result.as_ref().map_or(&[][..], |r| &r.outputs[..]);
    let (present, wanted): (Vec<&Preset>, Vec<&Preset>) = p
        .presets
        .as_slice()
        .iter()
        .partition(|preset| had.iter().any(|o| o.preset == preset.name()));
    let mut skipped: Vec<String> = present.iter().map(|p| p.name().to_owned()).collect();
    if wanted.is_empty() {
        return Ok(RenditionsResult {
            track_id: track.id,
            added: Vec::new(),
            skipped,
        });
    }
    let wanted = wanted.into_iter().cloned().collect();
    let made = encode(ctx, &track, wanted, Measure::Nothing).await?;
    let outputs = store_outputs(ctx, &track, &made).await?;
    let tracks = &ctx.stores.db.tracks;
    let AddedOutputs::Added(added) = tracks
        .add_outputs(track.tenant_id, track.id, &outputs)
        .await?
    else {
        return Err(TrackError::NotReady(track.id));
    };
    // Made here, but added meanwhile by another job: that one's output stays.
    let raced = outputs.into_iter().filter(|o| !added.contains(&o.preset));
    skipped.extend(raced.map(|o| o.preset));
    info!(
        added = added.len(),
        skipped = skipped.len(),
        "renditions added"
    );
    Ok(RenditionsResult {
        track_id: track.id,
        added,
        skipped,
    })
}
