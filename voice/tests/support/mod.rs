//! Helpers shared by the integration tests and the examples: test audio and
//! the model file.

#![allow(dead_code)] // each including target uses its own subset

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use mixdown_voice::Encoder;

#[path = "../../../testkit/src/voice_files.rs"]
mod voice_files;
pub use voice_files::{voice_data as testdata, voice_model as model_path};

/// Mono samples in [−1, 1] and the sample rate of a WAV file.
pub fn read_wav(path: &Path) -> (Vec<f32>, u32) {
    let mut reader =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = reader.spec();
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().map(Result::unwrap).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.unwrap() as f32 * scale)
                .collect()
        }
    };
    let mono = samples
        .chunks(spec.channels as usize)
        .map(|c| c.iter().sum::<f32>() / c.len() as f32)
        .collect();
    (mono, spec.sample_rate)
}

/// A corpus file by name, e.g. `vctk-p225_002`.
pub fn corpus(name: &str) -> (Vec<f32>, u32) {
    read_wav(&testdata().join(format!("{name}.wav")))
}

/// Every corpus file as (speaker, file stem), in name order.
pub fn corpus_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(testdata())
        .expect("shared/testdata/voice is beside the repository")
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "wav").then_some(())?;
            let stem = path.file_stem()?.to_str()?.to_string();
            Some((stem.split('_').next()?.to_string(), stem))
        })
        .collect();
    files.sort();
    files
}

/// The encoder, loaded once per process.
pub fn encoder() -> &'static Encoder {
    static ENCODER: OnceLock<Encoder> = OnceLock::new();
    ENCODER.get_or_init(|| Encoder::load(&model_path()).expect("the model loads"))
}

/// Speech synthesised by espeak-ng (22.05 kHz), as samples and rate.
pub fn espeak(text: &str) -> (Vec<f32>, u32) {
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = dir.path().join("tts.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng is installed (scripts/setup.sh lists it)");
    assert!(status.success());
    read_wav(&wav)
}

/// Deterministic white noise with RMS `rms` (xorshift, uniform).
pub fn white_noise(len: usize, rms: f32, seed: u64) -> Vec<f32> {
    let mut state = seed.max(1);
    // A uniform variable on [−1, 1] has RMS 1/√3.
    let scale = rms * 3f32.sqrt();
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32 * scale
        })
        .collect()
}

/// RMS of a signal.
pub fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// Taps of a Hamming-windowed sinc band-pass from `lo` to `hi` Hz (`lo` 0: a low-pass).
pub fn band_pass(lo: f32, hi: f32, rate: f32, len: usize) -> Vec<f32> {
    let m = (len - 1) as f32 / 2.0;
    let sinc = |f: f32, t: f32| {
        if t == 0.0 {
            2.0 * f
        } else {
            (2.0 * std::f32::consts::PI * f * t).sin() / (std::f32::consts::PI * t)
        }
    };
    (0..len)
        .map(|k| {
            let t = k as f32 - m;
            let hamming =
                0.54 - 0.46 * (2.0 * std::f32::consts::PI * k as f32 / (len - 1) as f32).cos();
            (sinc(hi / rate, t) - sinc(lo / rate, t)) * hamming
        })
        .collect()
}

/// `x` through the FIR `taps` (centred), keeping every `step`-th output.
pub fn filter(x: &[f32], taps: &[f32], step: usize) -> Vec<f32> {
    let half = taps.len() / 2;
    (0..x.len().div_ceil(step))
        .map(|n| {
            let centre = n * step;
            taps.iter()
                .enumerate()
                .filter_map(|(k, h)| {
                    (centre + k)
                        .checked_sub(half)
                        .and_then(|i| x.get(i))
                        .map(|v| v * h)
                })
                .sum()
        })
        .collect()
}
