//! `mixdown analyze`: the music analysis of audio files (tempo, key, energy, fingerprint),
//! one JSON line per file, and with `--pairs` how every two of them align: what the
//! accuracy benchmark reads.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use mixdown_media::analysis::{
    Analysis, Analyzer,
    fingerprint::{MATCH_RULE, best_alignment},
};
use mixdown_media::decode::{DecodeLimits, Decoder};
use serde::Serialize;
use serde_json::json;

/// Options of `mixdown analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Audio files to analyse.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Also print, for every two files, their best alignment over every offset and whether
    /// it passes the duplicate rule.
    #[arg(long)]
    pairs: bool,
    /// Print each file's fingerprint too.
    #[arg(long)]
    fingerprints: bool,
}

/// One file's line.
#[derive(Debug, Serialize)]
struct FileReport<'a> {
    file: &'a Path,
    seconds: f64,
    wall_seconds: f64,
    tempo_bpm: Option<f64>,
    tempo_confidence: Option<f64>,
    key: Option<String>,
    key_confidence: Option<f64>,
    energy: f64,
    hashes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<&'a [u32]>,
}

/// Runs the command off the async executor: decoding and analysis are CPU-bound.
pub async fn run_blocking(args: AnalyzeArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || run(&args)).await?
}

fn run(args: &AnalyzeArgs) -> anyhow::Result<()> {
    let mut prints = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let started = Instant::now();
        let (analysis, seconds) = analyse(file)?;
        let report = FileReport {
            file,
            seconds,
            wall_seconds: started.elapsed().as_secs_f64(),
            tempo_bpm: analysis.tempo.map(|t| t.bpm),
            tempo_confidence: analysis.tempo.map(|t| t.confidence),
            key: analysis.key.map(|k| k.key.to_string()),
            key_confidence: analysis.key.map(|k| k.confidence),
            energy: analysis.energy,
            hashes: analysis.fingerprint.len(),
            fingerprint: args.fingerprints.then_some(&analysis.fingerprint[..]),
        };
        println!("{}", serde_json::to_string(&report)?);
        if args.pairs {
            prints.push(analysis.fingerprint);
        }
    }
    for (i, a) in prints.iter().enumerate() {
        for (j, b) in prints.iter().enumerate().skip(i + 1) {
            let everywhere = -(a.len() as i64)..=b.len() as i64;
            let best = best_alignment(a, b, everywhere, &MATCH_RULE);
            let line = json!({
                "a": args.files[i], "b": args.files[j],
                "offset": best.offset, "overlap_seconds": best.overlap_seconds(),
                "bit_error_rate": best.bit_error_rate, "duplicate": MATCH_RULE.accepts(&best),
            });
            println!("{line}");
        }
    }
    Ok(())
}

/// Decodes `file` through the analyzer alone; answers the analysis and the seconds decoded.
fn analyse(file: &Path) -> anyhow::Result<(Analysis, f64)> {
    let mut decoder = Decoder::open_path(file, DecodeLimits::permissive())
        .with_context(|| format!("cannot decode {}", file.display()))?;
    let mut analyzer = Analyzer::new(decoder.format());
    while let Some(block) = decoder
        .next_block()
        .with_context(|| format!("cannot decode {}", file.display()))?
    {
        analyzer.add(block.samples());
    }
    Ok((
        analyzer.into_analysis(),
        decoder.duration_decoded().as_secs_f64(),
    ))
}
