//! `mixdown waveform`: audiowaveform's command line over Mixdown's decoder, peaks and images.
//!
//! The options keep audiowaveform's names so scripts can switch. Differences: the input
//! format is always sniffed from the content (`--input-format` is accepted and ignored);
//! `--summary N` writes N normalised points as a JSON list instead of peaks (JSON output
//! only). Without `--zoom`, `--pixels-per-second` or `--end`, an image fits the whole audio
//! into its width. The options are `mixdown_media::waveform_file`'s, which a `waveform` job
//! takes too.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{ArgAction, Args};
use mixdown_media::decode::{DecodeLimits, Decoder};
use mixdown_media::waveform_file::{FileFormat, Limits, WaveformFile, WaveformFileOptions};

/// Options of `mixdown waveform`, named as audiowaveform names them.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct WaveformArgs {
    /// Audio file to read; its format is found from its content.
    #[arg(short = 'i', long)]
    input: PathBuf,
    /// File to write; the format comes from its extension (.dat, .json, .png, .svg).
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Accepted for audiowaveform compatibility; the content decides.
    #[arg(long)]
    input_format: Option<String>,
    /// What to write and how: the options a `waveform` job takes too.
    #[command(flatten)]
    options: WaveformFileOptions,
    /// Prints help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
}

/// Runs the command off the async executor: decoding is CPU-bound.
pub async fn run_blocking(args: WaveformArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || run(&args)).await?
}

fn run(args: &WaveformArgs) -> anyhow::Result<()> {
    let file = waveform_file(args)?;
    let mut decoder = Decoder::open_path(&args.input, DecodeLimits::permissive())
        .with_context(|| format!("cannot decode {}", args.input.display()))?
        .peaks_only();
    let written = File::create(&args.output)
        .map_err(anyhow::Error::from)
        .and_then(|out| Ok(file.write(&mut decoder, BufWriter::new(out))?));
    if written.is_err() {
        // A half-written file would pass for a whole one.
        let _ = fs::remove_file(&args.output);
    }
    written.with_context(|| format!("cannot make {}", args.output.display()))
}

/// The options checked, the format falling back to the output's extension.
fn waveform_file(args: &WaveformArgs) -> anyhow::Result<WaveformFile> {
    let extension = args.output.extension().and_then(|e| e.to_str());
    let fallback = extension.and_then(FileFormat::from_extension);
    if args.options.format.is_none() && fallback.is_none() {
        bail!(
            "cannot tell the output format of {}: use .dat, .json, .png or .svg, or --output-format",
            args.output.display()
        );
    }
    let file = args.options.check(fallback, &Limits::NONE);
    // The check names options as a payload does; the command line spells them with dashes.
    file.map_err(|e| anyhow::anyhow!("--{}: {}", e.field.replace('_', "-"), e.message))
}
