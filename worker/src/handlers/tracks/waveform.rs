//! A ready track's waveform as one file: its original decoded once into the
//! file the payload asks for (`mixdown waveform`'s writer), stored under the
//! track's keys by a digest of the payload.

use std::{fs::File, io::BufWriter, path::Path};

use mixdown_jobs::tracks::{WaveformPayload, WaveformResult, waveform_key};
use mixdown_media::{
    decode::{DecodeLimits, Decoder},
    waveform_file::WaveformFile,
};
use tracing::info;

use super::{TrackError, fetch_original, ready_track, scratch};
use crate::handlers::{JobContext, blocking};

pub(crate) async fn run(
    p: &WaveformPayload,
    ctx: &JobContext,
) -> Result<WaveformResult, TrackError> {
    let track = ready_track(ctx, p.track_id()).await?;
    let dir = scratch(ctx)?;
    let (original, _) = fetch_original(ctx, &track, &dir).await?;
    let format = p.file().format();
    let path = dir.path().join(format!("waveform.{}", format.extension()));
    let (file, limits, target) = (p.file().clone(), ctx.tracks.limits, path.clone());
    let bytes = blocking(move || draw(&original, &file, limits, &target)).await?;
    let key = waveform_key(track.tenant_id, track.id, p);
    ctx.stores.objects.put_file(&key, &path).await?;
    info!(bytes, format = format.extension(), "waveform stored");
    Ok(WaveformResult {
        key,
        content_type: format.content_type().to_owned(),
        bytes,
    })
}

/// The blocking part: decode and write; answers the file's size.
fn draw(
    original: &Path,
    file: &WaveformFile,
    limits: DecodeLimits,
    target: &Path,
) -> Result<u64, TrackError> {
    let mut decoder = Decoder::open_path(original, limits)?.peaks_only();
    let scratch_failed = |source| TrackError::Scratch {
        dir: target.to_owned(),
        source,
    };
    let out = File::create(target).map_err(scratch_failed)?;
    file.write(&mut decoder, BufWriter::new(out))?;
    Ok(std::fs::metadata(target).map_err(scratch_failed)?.len())
}
