//! `mixdown transcode`: every streaming rendition of an audio file and its loudness from one
//! decode, reported as JSON on standard output.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use mixdown_media::decode::{DecodeLimits, Decoder};
use mixdown_media::loudness::{Loudness, LoudnessMeter};
use mixdown_media::transcode::{Flow, Preset, Rendition, default_presets, transcode};
use serde::{Deserialize, Serialize};

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
}

/// A presets file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetsFile {
    preset: Vec<Preset>,
}

/// What the command prints.
#[derive(Debug, Serialize)]
struct Report {
    source: Source,
    renditions: Vec<Rendition>,
    loudness: Loudness,
    wall_seconds: f64,
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
        Some(path) => read_presets(path)?,
        None => default_presets(),
    };
    let started = Instant::now();
    let mut decoder = Decoder::open_path(&args.input, DecodeLimits::permissive())
        .with_context(|| format!("cannot decode {}", args.input.display()))?;
    let mut meter = LoudnessMeter::new(decoder.format())?;
    let renditions = transcode(
        &mut decoder,
        &presets,
        &args.output,
        &mut [&mut meter],
        &mut |_| Flow::Continue,
    )
    .with_context(|| format!("cannot transcode {}", args.input.display()))?;
    let report = Report {
        source: Source::new(&decoder),
        renditions,
        loudness: meter.loudness(),
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn read_presets(path: &Path) -> anyhow::Result<Vec<Preset>> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_presets(&text).with_context(|| format!("invalid presets in {}", path.display()))
}

fn parse_presets(text: &str) -> anyhow::Result<Vec<Preset>> {
    Ok(toml::from_str::<PresetsFile>(text)?.preset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presets_file_lists_preset_tables() {
        let presets = parse_presets(
            r#"
            [[preset]]
            name = "mp3_320"
            codec = "mp3"
            container = "mp3"
            bit_rate = 320000

            [[preset]]
            name = "hls_short"
            codec = "aac"
            container = "hls"
            bit_rate = 96000
            segment_seconds = 4
            start_ms = 1000
            duration_ms = 20000
            "#,
        )
        .expect("valid presets");
        assert_eq!(presets.len(), 2);
        assert_eq!(presets[1].segment_seconds(), Some(4));
    }

    #[test]
    fn a_preset_with_a_bad_field_or_an_unknown_one_is_refused_by_name() {
        let preset = "[[preset]]\nname = \"x\"\ncodec = \"mp3\"\ncontainer = \"mp3\"\n";
        let error = parse_presets(&format!("{preset}bit_rate = 1")).expect_err("bad bit rate");
        assert!(format!("{error:#}").contains("bit_rate"), "{error:#}");
        let unknown = format!("{preset}bit_rate = 128000\nbitrate = 5");
        let error = parse_presets(&unknown).expect_err("unknown field");
        assert!(format!("{error:#}").contains("bitrate"), "{error:#}");
    }
}
