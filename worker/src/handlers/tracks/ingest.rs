//! Ingest: proves the original is audio within the limits, describes it
//! (format, tags, cover art, checksum) and records the transcode job.

use std::{fs::File, io::Read, path::Path, time::Duration};

use bytes::Bytes;
use mixdown_jobs::{
    model::NewJob,
    payload::JobPayload,
    tracks::{IngestPayload, IngestResult, TrackMetadata, TranscodePayload, cover_key},
};
use mixdown_media::{
    decode::{Decoder, Probe},
    tags::{Cover, read_tags},
};
use sha2::{Digest, Sha256};

use super::{TrackError, TrackSettings, fetch_original, load_track, scratch};
use crate::handlers::{JobContext, blocking};

pub(crate) async fn run(p: &IngestPayload, ctx: &JobContext) -> Result<IngestResult, TrackError> {
    let tenant = ctx.job.tenant_id;
    let track = load_track(ctx, p.track_id).await?;
    let dir = scratch(ctx)?;
    let (path, size) = fetch_original(ctx, &track, &dir).await?;
    let settings = TrackSettings::clone(&ctx.tracks);
    let (metadata, cover) = blocking(move || describe(&path, size, &settings)).await?;
    if ctx.cancel.is_cancelled() {
        return Err(TrackError::Cancelled);
    }
    let cover_key = match cover {
        Some(cover) => {
            let key = cover_key(tenant, track.id, cover.mime.as_deref().unwrap_or_default());
            let stored = ctx.stores.objects.put_bytes(&key, Bytes::from(cover.data));
            stored.await?;
            Some(key)
        }
        None => None,
    };
    let transcode = NewJob {
        parent_id: Some(ctx.job.id),
        // The track's end is reported from its jobs' ends.
        callback_url: track.callback_url.clone(),
        ..NewJob::with_defaults(
            tenant,
            JobPayload::Transcode(TranscodePayload { track_id: track.id }),
        )
    };
    let tracks = &ctx.stores.db.tracks;
    let recorded =
        tracks.record_ingest(tenant, track.id, &metadata, cover_key.as_ref(), &transcode);
    let (job, created) = recorded.await?;
    if created {
        ctx.stores.announce(&job).await;
    }
    Ok(IngestResult {
        track_id: track.id,
        metadata,
        cover: cover_key.is_some(),
        cover_key,
    })
}

/// Everything ingest learns from the file, or why it is refused.
fn describe(
    path: &Path,
    size: u64,
    settings: &TrackSettings,
) -> Result<(TrackMetadata, Option<Cover>), TrackError> {
    let sha256 = sha256_of(path)?;
    let mut decoder = Decoder::open_path(path, settings.limits)?;
    let probe = decoder.probe().clone();
    let duration = match probe.duration {
        Some(d) => d,
        // Nothing declared the length: decode to count it (bounded by the limits).
        None => {
            while decoder.next_block()?.is_some() {}
            decoder.duration_decoded()
        }
    };
    if duration < settings.min_duration {
        return Err(TrackError::TooShort {
            found: duration,
            min: settings.min_duration,
        });
    }
    let tags = read_tags(path);
    Ok((
        metadata(&probe, duration, size, sha256, tags.text),
        tags.cover,
    ))
}

fn metadata(
    probe: &Probe,
    duration: Duration,
    size: u64,
    sha256: String,
    tags: std::collections::BTreeMap<String, String>,
) -> TrackMetadata {
    TrackMetadata {
        container: probe.container.name().to_owned(),
        codec: probe.codec.name().to_owned(),
        duration_ms: duration.as_millis() as u64,
        sample_rate: probe.format.sample_rate.hz(),
        channels: probe.format.channels.get(),
        bit_rate: probe.bit_rate,
        tags,
        sha256,
        size_bytes: size,
    }
}

fn sha256_of(path: &Path) -> Result<String, TrackError> {
    let failed = |e: std::io::Error| TrackError::Decode(e.into());
    let mut file = File::open(path).map_err(failed)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(failed)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
