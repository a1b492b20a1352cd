//! What the transcode and loudness tests ask of the ffmpeg and sox command-line tools:
//! richer fixtures, probes and decodes of outputs, and comparing audio that an encoder
//! has delayed.

#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// Runs a tool and returns its standard output; panics with its standard error on failure.
pub fn output_of(command: &mut Command) -> Vec<u8> {
    let output = command.output().expect("sox and ffmpeg are installed");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Runs a tool and returns its standard error, where ffmpeg writes its reports.
pub fn stderr_of(command: &mut Command) -> String {
    let output = command.output().expect("ffmpeg is installed");
    assert!(output.status.success(), "{command:?} failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes a music-like WAV with sox: two tones and pink noise under a slow tremolo, the
/// same noise on every run.
pub fn music(path: &Path, rate: u32, channels: u16, seconds: f64) {
    let seconds = seconds.to_string();
    output_of(
        Command::new("sox")
            .args([
                "-R",
                "-D",
                "-n",
                "-r",
                &rate.to_string(),
                "-c",
                &channels.to_string(),
            ])
            .args(["-b", "16"])
            .arg(path)
            .args(["synth", &seconds, "sine", "220", "sine", "330"])
            .args(["synth", &seconds, "pinknoise", "mix"])
            .args(["tremolo", "0.5", "40", "gain", "-6"]),
    );
}

/// What ffprobe reports of a file's first audio stream and its container.
#[derive(Debug)]
pub struct Probe {
    pub codec: String,
    pub profile: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// The stream's bit rate, when the container states one.
    pub bit_rate: Option<u64>,
    /// The container's duration in seconds.
    pub duration: f64,
}

/// Probes `path` with ffprobe.
pub fn probe(path: &Path) -> Probe {
    let text = output_of(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "a:0", "-show_entries"])
            .args(["stream=codec_name,profile,sample_rate,channels,bit_rate:format=duration"])
            .args(["-of", "default=noprint_wrappers=1"])
            .arg(path),
    );
    let text = String::from_utf8(text).expect("UTF-8");
    let fields: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let number = |key: &str| fields.get(key).and_then(|value| value.parse::<f64>().ok());
    Probe {
        codec: fields["codec_name"].to_owned(),
        profile: fields
            .get("profile")
            .copied()
            .unwrap_or_default()
            .to_owned(),
        sample_rate: number("sample_rate").expect("a sample rate") as u32,
        channels: number("channels").expect("channels") as u16,
        bit_rate: number("bit_rate").map(|rate| rate as u64),
        duration: number("duration").expect("a duration"),
    }
}

/// Average bit rate of the audio packets alone (no container overhead), in bits/s.
pub fn packet_bit_rate(path: &Path) -> f64 {
    let text = output_of(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "a:0", "-show_entries"])
            .args(["packet=size,duration_time", "-of", "compact=p=0"])
            .arg(path),
    );
    let (mut bytes, mut seconds) = (0.0, 0.0);
    for line in String::from_utf8(text).expect("UTF-8").lines() {
        for (key, value) in line.split('|').filter_map(|field| field.split_once('=')) {
            // A packet whose duration is unknown ("N/A", the first AAC one) adds no time.
            let value: f64 = value.parse().unwrap_or(0.0);
            match key {
                "size" => bytes += value,
                "duration_time" => seconds += value,
                _ => {}
            }
        }
    }
    bytes * 8.0 / seconds
}

/// How long `path` plays when ffmpeg decodes it, in seconds.
pub fn decoded_seconds(path: &Path, rate: u32) -> f64 {
    decode_f32(path, rate, 1).len() as f64 / f64::from(rate)
}

/// Decodes `path` with ffmpeg to interleaved `f32` at `rate` Hz and `channels` channels.
pub fn decode_f32(path: &Path, rate: u32, channels: u16) -> Vec<f32> {
    let bytes = output_of(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(path)
            .args(["-ar", &rate.to_string(), "-ac", &channels.to_string()])
            .args(["-f", "f32le", "-"]),
    );
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Frames of the excerpt that finds the lag: enough for a clear peak, few enough for a
/// debug build to scan thousands of lags quickly.
const EXCERPT_FRAMES: usize = 16_384;

/// How closely an encoded signal follows its reference once aligned.
#[derive(Debug, Clone, Copy)]
pub struct Likeness {
    /// Frames the encoded signal lags the reference by.
    pub lag: i64,
    /// Normalised correlation over the whole overlap, −1 to 1.
    pub correlation: f64,
    /// Reference power over the power of the difference, in dB.
    pub snr_db: f64,
}

/// Aligns `encoded` on `reference` (both interleaved, `channels` wide) by the lag, within
/// ±`max_lag` frames, that best correlates an excerpt of their mono mixes, then
/// compares them over their whole overlap.
pub fn likeness(reference: &[f32], encoded: &[f32], channels: usize, max_lag: i64) -> Likeness {
    let mono = |signal: &[f32]| -> Vec<f64> {
        signal
            .chunks_exact(channels)
            .map(|frame| frame.iter().map(|&s| f64::from(s)).sum::<f64>())
            .collect()
    };
    let (reference_mono, encoded_mono) = (mono(reference), mono(encoded));
    let start = max_lag as usize;
    let excerpt = start..(start + EXCERPT_FRAMES).min(reference_mono.len());
    let (lag, _) = (-max_lag..=max_lag)
        .map(|lag| {
            let score = correlation(&reference_mono, &encoded_mono, excerpt.clone(), lag);
            (lag, score)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a lag range");
    let whole = |signal: &[f32]| -> Vec<f64> { signal.iter().map(|&s| f64::from(s)).collect() };
    let (reference, encoded) = (whole(reference), whole(encoded));
    let channel_lag = lag * channels as i64;
    let pairs = || {
        (0..reference.len()).filter_map(move |i| {
            let j = usize::try_from(i as i64 + channel_lag).ok()?;
            Some((reference[i], *encoded.get(j)?))
        })
    };
    let (mut signal, mut noise, mut cross, mut power) = (0.0, 0.0, 0.0, 0.0);
    for (r, e) in pairs() {
        signal += r * r;
        noise += (r - e) * (r - e);
        cross += r * e;
        power += e * e;
    }
    Likeness {
        lag,
        correlation: cross / (signal * power).sqrt(),
        snr_db: 10.0 * (signal / noise).log10(),
    }
}

fn correlation(
    reference: &[f64],
    encoded: &[f64],
    frames: std::ops::Range<usize>,
    lag: i64,
) -> f64 {
    let (mut cross, mut power) = (0.0, 0.0);
    for i in frames {
        let Some(&e) = usize::try_from(i as i64 + lag)
            .ok()
            .and_then(|j| encoded.get(j))
        else {
            continue;
        };
        cross += reference[i] * e;
        power += e * e;
    }
    if power > 0.0 {
        cross / power.sqrt()
    } else {
        0.0
    }
}

/// Every file under `dir`, as paths relative to it, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("readable directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).expect("under dir");
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}
