//! Ingest: proves the original is audio within the limits and describes it
//! (format, tags, cover art, checksum). The original is read once: hashed
//! while it is fetched, then probed. What follows is the track workflow's
//! call (`workflow::track`).

use std::{path::Path, time::Duration};

use bytes::Bytes;
use mixdown_jobs::{
    objects::Downloaded,
    tracks::{IngestResult, TrackMetadata, TrackPayload, cover_key},
};
use mixdown_media::{
    decode::{Decoder, Probe},
    tags::{Cover, read_tags},
};

use super::{TrackError, TrackSettings, fetch_original, load_track, scratch};
use crate::handlers::{JobContext, blocking};

pub(crate) async fn run(p: &TrackPayload, ctx: &JobContext) -> Result<IngestResult, TrackError> {
    let tenant = ctx.job.tenant_id;
    let track = load_track(ctx, p.track_id).await?;
    let dir = scratch(ctx)?;
    let (path, fetched) = fetch_original(ctx, &track, &dir).await?;
    let settings = TrackSettings::clone(&ctx.tracks);
    let (metadata, cover) = blocking(move || describe(&path, fetched, &settings)).await?;
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
    fetched: Downloaded,
    settings: &TrackSettings,
) -> Result<(TrackMetadata, Option<Cover>), TrackError> {
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
    Ok((metadata(&probe, duration, fetched, tags.text), tags.cover))
}

fn metadata(
    probe: &Probe,
    duration: Duration,
    fetched: Downloaded,
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
        sha256: fetched.sha256,
        size_bytes: fetched.size,
    }
}
