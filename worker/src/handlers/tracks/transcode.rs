//! Transcode: one decode of the original feeds every preset's encoder, the
//! loudness meter and the peaks side by side; the outputs are stored under
//! the track's keys and returned, for the track workflow to make the track
//! ready with. Renditions added later (`renditions`) reuse the same decode,
//! without the measuring sinks.

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
    format::AudioFormat,
    loudness::LoudnessMeter,
    transcode::{BlockSink, Flow, Preset, Rendition, transcode},
    waveform::{
        DEFAULT_SUMMARY_POINTS,
        levels::{Levels, LevelsSink},
    },
};
use tempfile::TempDir;
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
    let made = encode(ctx, &track, track.presets.as_slice().to_vec(), true).await?;
    let outputs = store_outputs(ctx, &track, &made).await?;
    let measured = made.encoded.measured;
    let measured = measured.ok_or_else(|| TrackError::Internal("nothing was measured".into()))?;
    let waveform = store_waveform(ctx, &track, measured.levels).await?;
    let seconds = made.encoded.seconds;
    info!(outputs = outputs.len(), seconds, "transcoded");
    Ok(TranscodeResult {
        made: TrackResult {
            loudness: measured.loudness,
            outputs,
            waveform,
        },
        audio_seconds: seconds,
    })
}

/// What one decode of a track's original made, in a scratch directory that
/// lives as long as this.
pub(super) struct Made {
    _scratch: TempDir,
    out_dir: PathBuf,
    encoded: Encoded,
}

/// Decodes the track's original once into every preset of `presets`; with
/// `measure`, its loudness and waveform levels come from the same decode.
pub(super) async fn encode(
    ctx: &JobContext,
    track: &TrackRecord,
    presets: Vec<Preset>,
    measure: bool,
) -> Result<Made, TrackError> {
    let scratch = scratch(ctx)?;
    let (original, _) = fetch_original(ctx, track, &scratch).await?;
    let out_dir = make_dir(scratch.path().join("out"))?;
    let waveform_dir = measure
        .then(|| make_dir(scratch.path().join(WAVEFORM_DIR)))
        .transpose()?;
    let (progress, watcher) = watch::channel(0.0);
    let job = Encode {
        original,
        out_dir: out_dir.clone(),
        waveform_dir,
        limits: ctx.tracks.limits,
        presets,
        cancel: ctx.cancel.clone(),
    };
    let (encoded, ()) = tokio::join!(
        blocking(move || job.run(&progress)),
        report_progress(ctx, watcher)
    );
    let encoded = encoded?;
    ctx.stores
        .metrics
        .audio_seconds
        .with_label_values(&["transcode"])
        .inc_by(encoded.seconds);
    Ok(Made {
        _scratch: scratch,
        out_dir,
        encoded,
    })
}

fn make_dir(dir: PathBuf) -> Result<PathBuf, TrackError> {
    match std::fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(source) => Err(TrackError::Scratch { dir, source }),
    }
}

/// The blocking part: decode once, encode, and measure when asked.
struct Encode {
    original: PathBuf,
    out_dir: PathBuf,
    waveform_dir: Option<PathBuf>,
    limits: DecodeLimits,
    presets: Vec<Preset>,
    cancel: CancellationToken,
}

impl Encode {
    fn run(self, progress: &watch::Sender<f64>) -> Result<Encoded, TrackError> {
        let mut decoder = Decoder::open_path(&self.original, self.limits)?;
        let format = decoder.format();
        let mut measures = self
            .waveform_dir
            .as_deref()
            .map(|dir| Measures::new(format, dir))
            .transpose()?;
        let mut on_progress = |done: f64| {
            progress.send_replace(done);
            if self.cancel.is_cancelled() {
                Flow::Stop
            } else {
                Flow::Continue
            }
        };
        let mut sinks: Vec<&mut dyn BlockSink> = match &mut measures {
            Some(m) => vec![&mut m.meter, &mut m.peaks],
            None => Vec::new(),
        };
        let renditions = transcode(
            &mut decoder,
            &self.presets,
            &self.out_dir,
            &mut sinks,
            &mut on_progress,
        )?;
        Ok(Encoded {
            renditions,
            measured: measures.map(Measures::finish).transpose()?,
            seconds: decoder.duration_decoded().as_secs_f64(),
        })
    }
}

/// The sinks that measure a track beside its encoders.
struct Measures {
    meter: LoudnessMeter,
    peaks: LevelsSink,
}

impl Measures {
    fn new(format: AudioFormat, waveform_dir: &Path) -> Result<Self, TrackError> {
        Ok(Self {
            meter: LoudnessMeter::new(format).map_err(|e| TrackError::Loudness(e.to_string()))?,
            peaks: LevelsSink::create(waveform_dir, format, DEFAULT_SUMMARY_POINTS)
                .map_err(|e| TrackError::Waveform(e.to_string()))?,
        })
    }

    fn finish(self) -> Result<Measured, TrackError> {
        let loudness = self.meter.loudness();
        let levels = self.peaks.into_levels();
        Ok(Measured {
            loudness: LoudnessRecord {
                integrated_lufs: loudness.integrated_lufs,
                true_peak_dbtp: loudness.true_peak_dbtp,
                lra_lu: loudness.loudness_range_lu,
                replaygain_track_gain_db: loudness.replaygain_track_gain_db,
            },
            levels: levels
                .ok_or_else(|| TrackError::Internal("the waveform was not finished".into()))?,
        })
    }
}

/// What the blocking part made.
struct Encoded {
    renditions: Vec<Rendition>,
    measured: Option<Measured>,
    seconds: f64,
}

/// What the measuring sinks found.
struct Measured {
    loudness: LoudnessRecord,
    levels: Levels,
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

/// Uploads every file of every rendition made under the track's output keys.
pub(super) async fn store_outputs(
    ctx: &JobContext,
    track: &TrackRecord,
    made: &Made,
) -> Result<Vec<OutputRecord>, TrackError> {
    let (out_dir, renditions) = (&made.out_dir, &made.encoded.renditions);
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
