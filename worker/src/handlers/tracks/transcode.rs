//! Transcode: one decode of the original feeds every preset's encoder, the
//! loudness meter, the peaks and the music analysis side by side; the outputs
//! are stored under the track's keys and returned, for the track workflow to
//! make the track ready with. Renditions added later (`renditions`) reuse the
//! same decode without the measuring sinks, and `analyze` with the analysis
//! alone.

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
    analysis::{Analysis, Analyzer},
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

use super::{TrackError, analyze::record_analysis, fetch_original, load_track, scratch};
use crate::handlers::{JobContext, blocking};

/// Where the waveform's files go among the outputs.
const WAVEFORM_DIR: &str = "waveform";

/// Shortest time between two progress writes.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub(crate) async fn run(p: &TrackPayload, ctx: &JobContext) -> Result<TranscodeResult, TrackError> {
    let track = load_track(ctx, p.track_id).await?;
    let made = encode(
        ctx,
        &track,
        track.presets.as_slice().to_vec(),
        Measure::Everything,
    )
    .await?;
    let outputs = store_outputs(ctx, &track, &made).await?;
    let seconds = made.encoded.seconds;
    let measured = made.encoded.measured;
    let missing = |what: &str| TrackError::Internal(format!("the {what} was not measured"));
    let levels = measured.levels.ok_or_else(|| missing("waveform"))?;
    let waveform = store_waveform(ctx, &track, levels).await?;
    let analysis = measured.analysis.ok_or_else(|| missing("analysis"))?;
    let analysis = record_analysis(ctx, &track, &analysis).await?;
    info!(outputs = outputs.len(), seconds, "transcoded");
    Ok(TranscodeResult {
        made: TrackResult {
            loudness: measured.loudness.ok_or_else(|| missing("loudness"))?,
            outputs,
            waveform,
            analysis: Some(Box::new(analysis)),
        },
        audio_seconds: seconds,
    })
}

/// What a decode measures beside its encoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measure {
    /// Nothing: renditions.
    Nothing,
    /// The music analysis alone: `analyze`.
    Analysis,
    /// Loudness, peaks and the analysis: the track's own transcode.
    Everything,
}

/// What one decode of a track's original made, in a scratch directory that
/// lives as long as this.
pub(super) struct Made {
    _scratch: TempDir,
    out_dir: PathBuf,
    pub(super) encoded: Encoded,
}

/// Decodes the track's original once into every preset of `presets`, with
/// what `measure` asks for measured by the same decode.
pub(super) async fn encode(
    ctx: &JobContext,
    track: &TrackRecord,
    presets: Vec<Preset>,
    measure: Measure,
) -> Result<Made, TrackError> {
    let scratch = scratch(ctx)?;
    let (original, _) = fetch_original(ctx, track, &scratch).await?;
    let out_dir = make_dir(scratch.path().join("out"))?;
    let waveform_dir = (measure == Measure::Everything)
        .then(|| make_dir(scratch.path().join(WAVEFORM_DIR)))
        .transpose()?;
    let (progress, watcher) = watch::channel(0.0);
    let job = Encode {
        original,
        out_dir: out_dir.clone(),
        waveform_dir,
        analyze: measure != Measure::Nothing,
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
    /// Where the peaks go, when loudness and peaks are measured.
    waveform_dir: Option<PathBuf>,
    analyze: bool,
    limits: DecodeLimits,
    presets: Vec<Preset>,
    cancel: CancellationToken,
}

impl Encode {
    fn run(self, progress: &watch::Sender<f64>) -> Result<Encoded, TrackError> {
        let mut decoder = Decoder::open_path(&self.original, self.limits)?;
        let format = decoder.format();
        let mut measures = Measures::new(format, self.waveform_dir.as_deref(), self.analyze)?;
        let mut on_progress = |done: f64| {
            progress.send_replace(done);
            if self.cancel.is_cancelled() {
                Flow::Stop
            } else {
                Flow::Continue
            }
        };
        let mut sinks = measures.sinks();
        let renditions = transcode(
            &mut decoder,
            &self.presets,
            &self.out_dir,
            &mut sinks,
            &mut on_progress,
        )?;
        Ok(Encoded {
            renditions,
            measured: measures.finish()?,
            seconds: decoder.duration_decoded().as_secs_f64(),
        })
    }
}

/// The sinks that measure a track beside its encoders: loudness and peaks
/// (both or neither), and the analysis.
struct Measures {
    levels: Option<(LoudnessMeter, LevelsSink)>,
    analyzer: Option<Analyzer>,
}

impl Measures {
    /// Loudness and peaks into `waveform_dir` when given, the analysis when
    /// `analyze`.
    fn new(
        format: AudioFormat,
        waveform_dir: Option<&Path>,
        analyze: bool,
    ) -> Result<Self, TrackError> {
        let levels = waveform_dir
            .map(|dir| -> Result<_, TrackError> {
                let meter = LoudnessMeter::new(format);
                let peaks = LevelsSink::create(dir, format, DEFAULT_SUMMARY_POINTS);
                Ok((
                    meter.map_err(|e| TrackError::Loudness(e.to_string()))?,
                    peaks.map_err(|e| TrackError::Waveform(e.to_string()))?,
                ))
            })
            .transpose()?;
        Ok(Self {
            levels,
            analyzer: analyze.then(|| Analyzer::new(format)),
        })
    }

    fn sinks(&mut self) -> Vec<&mut dyn BlockSink> {
        let mut sinks: Vec<&mut dyn BlockSink> = Vec::with_capacity(3);
        if let Some((meter, peaks)) = &mut self.levels {
            sinks.push(meter);
            sinks.push(peaks);
        }
        if let Some(analyzer) = &mut self.analyzer {
            sinks.push(analyzer);
        }
        sinks
    }

    fn finish(self) -> Result<Measured, TrackError> {
        let (loudness, levels) = match self.levels {
            Some((meter, peaks)) => {
                let loudness = meter.loudness();
                let levels = peaks
                    .into_levels()
                    .ok_or_else(|| TrackError::Internal("the waveform was not finished".into()))?;
                let loudness = LoudnessRecord {
                    integrated_lufs: loudness.integrated_lufs,
                    true_peak_dbtp: loudness.true_peak_dbtp,
                    lra_lu: loudness.loudness_range_lu,
                    replaygain_track_gain_db: loudness.replaygain_track_gain_db,
                };
                (Some(loudness), Some(levels))
            }
            None => (None, None),
        };
        Ok(Measured {
            loudness,
            levels,
            analysis: self.analyzer.map(Analyzer::into_analysis),
        })
    }
}

/// What the blocking part made.
pub(super) struct Encoded {
    renditions: Vec<Rendition>,
    pub(super) measured: Measured,
    seconds: f64,
}

/// What the measuring sinks found: each `None` unless asked for.
pub(super) struct Measured {
    loudness: Option<LoudnessRecord>,
    levels: Option<Levels>,
    pub(super) analysis: Option<Analysis>,
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
