//! `mixdown transcode`: every streaming rendition of an audio file and its loudness (and, when
//! asked, its music analysis) from one decode, reported as JSON on standard output.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use mixdown_jobs::tracks::PresetsFile;
use mixdown_media::analysis::{Analysis, Analyzer, key::KeyEstimate, tempo::Tempo};
use mixdown_media::decode::{DecodeLimits, Decoder};
use mixdown_media::loudness::{Loudness, LoudnessMeter};
use mixdown_media::transcode::{BlockSink, Flow, Rendition, default_presets, transcode};
use serde::Serialize;

/// Options of `mixdown transcode`.
#[derive(Debug, Args)]
pub struct TranscodeArgs {
    /// Audio file to read; its format is found from its content.
    #[arg(short = 'i', long)]
    input: PathBuf,
    /// Directory to write the renditions into (created if missing).
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// TOML file of `[[preset]]` tables (name, codec, container, bit_rate, and optionally
    /// sample_rate, channels, segment_seconds, start_ms, duration_ms); default: the
    /// platform's four presets.
    #[arg(long)]
    presets: Option<PathBuf>,
    /// Also analyse the audio in the same decode (tempo, key, energy, fingerprint), as a
    /// track's own transcode does.
    #[arg(long)]
    analyze: bool,
}

/// What the command prints.
#[derive(Debug, Serialize)]
struct Report {
    source: Source,
    renditions: Vec<Rendition>,
    loudness: Loudness,
    #[serde(skip_serializing_if = "Option::is_none")]
    analysis: Option<AnalysisSummary>,
    wall_seconds: f64,
}

/// The analysis without its fingerprint.
#[derive(Debug, Serialize)]
struct AnalysisSummary {
    tempo: Option<Tempo>,
    key: Option<KeyEstimate>,
    energy: f64,
    fingerprint_hashes: usize,
}

impl From<Analysis> for AnalysisSummary {
    fn from(a: Analysis) -> Self {
        Self {
            tempo: a.tempo,
            key: a.key,
            energy: a.energy,
            fingerprint_hashes: a.fingerprint.len(),
        }
    }
}

/// The input as probed.
#[derive(Debug, Serialize)]
struct Source {
    container: String,
    codec: String,
    sample_rate: u32,
    channels: u16,
    duration_seconds: f64,
}

impl Source {
    fn new(decoder: &Decoder) -> Self {
        let probe = decoder.probe();
        Self {
            container: probe.container.name().to_owned(),
            codec: probe.codec.name().to_owned(),
            sample_rate: probe.format.sample_rate.hz(),
            channels: probe.format.channels.get(),
            duration_seconds: decoder.duration_decoded().as_secs_f64(),
        }
    }
}

/// Runs the command off the async executor: decoding and encoding are CPU-bound.
pub async fn run_blocking(args: TranscodeArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || run(&args)).await?
}

fn run(args: &TranscodeArgs) -> anyhow::Result<()> {
    let presets = match &args.presets {
        Some(path) => PresetsFile::read(path)
            .map_err(anyhow::Error::msg)?
            .presets()
            .to_vec(),
        None => default_presets(),
    };
    let started = Instant::now();
    let mut decoder = Decoder::open_path(&args.input, DecodeLimits::permissive())
        .with_context(|| format!("cannot decode {}", args.input.display()))?;
    let mut meter = LoudnessMeter::new(decoder.format())?;
    let mut analyzer = args.analyze.then(|| Analyzer::new(decoder.format()));
    let mut sinks: Vec<&mut dyn BlockSink> = vec![&mut meter];
    if let Some(analyzer) = &mut analyzer {
        sinks.push(analyzer);
    }
    let renditions = transcode(
        &mut decoder,
        &presets,
        &args.output,
        &mut sinks,
        &mut |_| Flow::Continue,
    )
    .with_context(|| format!("cannot transcode {}", args.input.display()))?;
    let report = Report {
        source: Source::new(&decoder),
        renditions,
        loudness: meter.loudness(),
        analysis: analyzer.map(|a| a.into_analysis().into()),
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
