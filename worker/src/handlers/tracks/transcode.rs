//! Transcode: one decode of the original feeds every preset's encoder, the
//! loudness meter and the peaks side by side; the outputs are stored under
//! the track's keys and returned, for the track workflow to make the track
//! ready with.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use mixdown_jobs::{
    events::Event,
    ids::{TenantId, TrackId},
    objects::ObjectKey,
    tracks::{
        LoudnessRecord, OutputRecord, TrackPayload, TrackRecord, TrackResult, TranscodeResult,
        WaveformLevel, WaveformRecord, output_key,
    },
};
use mixdown_media::{
    decode::{DecodeLimits, Decoder},
    loudness::LoudnessMeter,
    transcode::{BlockSink, Flow, Preset, Rendition, transcode},
    waveform::{
        DEFAULT_SUMMARY_POINTS,
        levels::{Levels, LevelsSink},
    },
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::{TrackError, fetch_original, load_track, scratch};
use crate::handlers::{JobContext, blocking};

/// Where the waveform's files go among the outputs.
const WAVEFORM_DIR: &str = "waveform";

/// Shortest time between two progress writes.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub(crate) async fn run(p: &TrackPayload, ctx: &JobContext) -> Result<TranscodeResult, TrackError> {
    let track = load_track(ctx, p.track_id).await?;
    let dir = scratch(ctx)?;
    let (original, _) = fetch_original(ctx, &track, &dir).await?;
    let out_dir = dir.path().join("out");
    let waveform_dir = dir.path().join(WAVEFORM_DIR);
    for made in [&out_dir, &waveform_dir] {
        std::fs::create_dir(made).map_err(|source| TrackError::Scratch {
            dir: made.clone(),
            source,
        })?;
    }
    let (progress, watcher) = watch::channel(0.0);
    let job = Encode {
        original,
        out_dir: out_dir.clone(),
        waveform_dir,
        limits: ctx.tracks.limits,
        presets: track.presets.as_slice().to_vec(),
        cancel: ctx.cancel.clone(),
    };
    let (encoded, ()) = tokio::join!(
        blocking(move || job.run(&progress)),
        report_progress(ctx, watcher)
    );
    let encoded = encoded?;
    let outputs = store_outputs(ctx, &track, &out_dir, &encoded.renditions).await?;
    let waveform = store_waveform(ctx, &track, encoded.levels).await?;
    ctx.stores
        .metrics
        .audio_seconds
        .with_label_values(&["transcode"])
        .inc_by(encoded.seconds);
    info!(
        outputs = outputs.len(),
        seconds = encoded.seconds,
        "transcoded"
    );
    Ok(TranscodeResult {
        made: TrackResult {
            loudness: encoded.loudness,
            outputs,
            waveform,
        },
        audio_seconds: encoded.seconds,
    })
}

/// The blocking part: decode once, encode and measure.
struct Encode {
    original: PathBuf,
    out_dir: PathBuf,
    waveform_dir: PathBuf,
    limits: DecodeLimits,
    presets: Vec<Preset>,
    cancel: CancellationToken,
}

impl Encode {
    fn run(self, progress: &watch::Sender<f64>) -> Result<Encoded, TrackError> {
        let mut decoder = Decoder::open_path(&self.original, self.limits)?;
        let format = decoder.format();
        let mut meter =
            LoudnessMeter::new(format).map_err(|e| TrackError::Loudness(e.to_string()))?;
        let mut peaks = LevelsSink::create(&self.waveform_dir, format, DEFAULT_SUMMARY_POINTS)
            .map_err(|e| TrackError::Waveform(e.to_string()))?;
        let mut on_progress = |done: f64| {
            progress.send_replace(done);
            if self.cancel.is_cancelled() {
                Flow::Stop
            } else {
                Flow::Continue
            }
        };
        let sinks: &mut [&mut dyn BlockSink] = &mut [&mut meter, &mut peaks];
        let renditions = transcode(
            &mut decoder,
            &self.presets,
            &self.out_dir,
            sinks,
            &mut on_progress,
        )?;
        let loudness = meter.loudness();
        let record = LoudnessRecord {
            integrated_lufs: loudness.integrated_lufs,
            true_peak_dbtp: loudness.true_peak_dbtp,
            lra_lu: loudness.loudness_range_lu,
            replaygain_track_gain_db: loudness.replaygain_track_gain_db,
        };
        let levels = peaks
            .into_levels()
            .ok_or_else(|| TrackError::Internal("the waveform was not finished".into()))?;
        Ok(Encoded {
            renditions,
            loudness: record,
            levels,
            seconds: decoder.duration_decoded().as_secs_f64(),
        })
    }
}

/// What the blocking part made.
struct Encoded {
    renditions: Vec<Rendition>,
    loudness: LoudnessRecord,
    levels: Levels,
    seconds: f64,
}

/// Writes the latest progress to the job row, and tells subscribers, at
/// most once per [`PROGRESS_EVERY`], until the encoder drops its sender.
async fn report_progress(ctx: &JobContext, mut watcher: watch::Receiver<f64>) {
    let jobs = &ctx.stores.db.jobs;
    while watcher.changed().await.is_ok() {
        let done = *watcher.borrow_and_update();
        match jobs.set_progress(ctx.job.id, ctx.job.attempt, done).await {
            Ok(()) => ctx.stores.events.post(&[(
                ctx.job.tenant_id,
                Event::JobProgress {
                    job_id: ctx.job.id,
                    progress: done,
                },
            )]),
            Err(err) => tracing::warn!(error = %err, "progress not recorded"),
        }
        tokio::time::sleep(PROGRESS_EVERY).await;
    }
}

/// Uploads every file of every rendition under the track's output keys.
async fn store_outputs(
    ctx: &JobContext,
    track: &TrackRecord,
    out_dir: &Path,
    renditions: &[Rendition],
) -> Result<Vec<OutputRecord>, TrackError> {
    let mut outputs = Vec::with_capacity(renditions.len());
    for r in renditions {
        let mut files = Vec::with_capacity(r.files.len());
        let mut size = 0;
        for file in &r.files {
            let source = out_dir.join(&file.path);
            files.push(store_file(ctx, track, &file.path, &source).await?);
            size += file.bytes;
        }
        outputs.push(OutputRecord {
            preset: r.preset.clone(),
            mime: r.mime.clone(),
            codec: r.codec.name().to_owned(),
            bit_rate: r.bit_rate,
            sample_rate: r.sample_rate,
            channels: r.channels,
            duration_ms: r.duration.as_millis() as u64,
            main: key_of(track.tenant_id, track.id, &r.main)?,
            files,
            size_bytes: size,
        });
    }
    Ok(outputs)
}

/// Uploads the file at `source` as the track's output at `relative`.
async fn store_file(
    ctx: &JobContext,
    track: &TrackRecord,
    relative: &str,
    source: &Path,
) -> Result<ObjectKey, TrackError> {
    let key = key_of(track.tenant_id, track.id, relative)?;
    let stored = ctx.stores.objects.put_file(&key, source);
    stored.await?;
    Ok(key)
}

/// Uploads the waveform's files.
async fn store_waveform(
    ctx: &JobContext,
    track: &TrackRecord,
    levels: Levels,
) -> Result<WaveformRecord, TrackError> {
    let relative = |path: &Path| -> Result<String, TrackError> {
        let name = path.file_name().and_then(|n| n.to_str());
        let name = name.ok_or_else(|| {
            TrackError::Internal(format!("waveform file {} has no name", path.display()))
        })?;
        Ok(format!("{WAVEFORM_DIR}/{name}"))
    };
    let mut stored = Vec::with_capacity(levels.dat.len());
    for level in &levels.dat {
        let dat = store_file(ctx, track, &relative(&level.path)?, &level.path).await?;
        stored.push(WaveformLevel {
            zoom: level.zoom,
            dat,
        });
    }
    let json = store_file(ctx, track, &relative(&levels.json.path)?, &levels.json.path).await?;
    Ok(WaveformRecord {
        levels: stored,
        json,
        summary: levels.summary.into_points(),
    })
}

fn key_of(tenant: TenantId, track: TrackId, relative: &str) -> Result<ObjectKey, TrackError> {
    output_key(tenant, track, relative)
        .ok_or_else(|| TrackError::Internal(format!("output path {relative} cannot be a key")))
}
