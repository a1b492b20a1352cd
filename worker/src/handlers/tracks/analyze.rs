//! Music analysis: what the track's transcode measured (or an `analyze` job
//! measures again on a ready track, in a decode of its own) is fingerprinted
//! into the tenant's index and matched against the tracks indexed before it.

use mixdown_jobs::tracks::{AnalysisRecord, TrackPayload, TrackRecord};
use mixdown_media::analysis::Analysis;
use tracing::info;

use super::{
    TrackError, ready_track,
    transcode::{Measure, encode},
};
use crate::handlers::JobContext;

/// Analyses the ready track again and stores the result on it.
pub(crate) async fn run(p: &TrackPayload, ctx: &JobContext) -> Result<AnalysisRecord, TrackError> {
    let track = ready_track(ctx, p.track_id).await?;
    let made = encode(ctx, &track, Vec::new(), Measure::Analysis).await?;
    let analysis = made.encoded.measured.analysis;
    let analysis = analysis.ok_or_else(|| TrackError::Internal("nothing was analysed".into()))?;
    let record = record_analysis(ctx, &track, &analysis).await?;
    let tracks = &ctx.stores.db.tracks;
    if !tracks
        .set_analysis(track.tenant_id, track.id, &record)
        .await?
    {
        return Err(TrackError::NotReady(track.id));
    }
    Ok(record)
}

/// Stores the track's fingerprint in the tenant's index and answers the
/// analysis with the tracks indexed before it that it duplicates.
pub(super) async fn record_analysis(
    ctx: &JobContext,
    track: &TrackRecord,
    analysis: &Analysis,
) -> Result<AnalysisRecord, TrackError> {
    let tracks = &ctx.stores.db.tracks;
    let hashes = &analysis.fingerprint;
    let duplicates = tracks
        .index_fingerprint(track.tenant_id, track.id, hashes)
        .await?;
    let record = AnalysisRecord::new(analysis, duplicates);
    info!(
        tempo = record.tempo_bpm,
        key = record.key.map(|k| k.to_string()),
        duplicate_of = record.duplicate_of().map(|t| t.to_string()),
        "analysed"
    );
    Ok(record)
}
