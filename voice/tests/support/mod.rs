//! Helpers shared by the integration tests and the examples: test audio and
//! the model file.

#![allow(dead_code)] // each including target uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mixdown_voice::Encoder;

/// The shared voice corpus (see its README): `MIXDOWN_TEST_VOICE_DATA`, else
/// `../shared/testdata/voice` beside the workspace.
pub fn testdata() -> PathBuf {
    std::env::var_os("MIXDOWN_TEST_VOICE_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/voice"),
        PathBuf::from,
    )
}

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

/// Path of Resemblyzer's weights: `MIXDOWN_VOICE_MODEL`, else the cache
/// directory, fetched there by `scripts/voice-model.sh` when missing.
pub fn model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MIXDOWN_VOICE_MODEL") {
        return PathBuf::from(p);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/voice-model.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "voice-model.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).expect("a path").trim())
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
