//! Helpers shared by the integration tests and the examples: test audio and
//! the model file.

#![allow(dead_code, unused_imports)] // each including target uses its own subset

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use mixdown_voice::Encoder;

#[path = "../../../testkit/src/voice_files.rs"]
mod voice_files;
pub use mixdown_voice::rms;
pub use voice_files::{
    voice_calibration_data as calibration_data, voice_data as testdata, voice_model as model_path,
};

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
    speaker_files(&testdata())
        .into_iter()
        .map(|(speaker, path)| {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            (speaker, stem.to_string())
        })
        .collect()
}

/// Every WAV file of a corpus directory as (speaker, path), in name order; the
/// speaker is the file name up to its first `_`.
pub fn speaker_files(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut files: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "wav").then_some(())?;
            let speaker = path.file_stem()?.to_str()?.split('_').next()?.to_string();
            Some((speaker, path))
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

/// Deterministic white noise with RMS `rms` (uniform).
pub fn white_noise(len: usize, rms: f32, seed: u64) -> Vec<f32> {
    // A uniform variable on [−1, 1] has RMS 1/√3.
    let scale = rms * 3f32.sqrt();
    mixdown_voice::uniform_noise(len, seed)
        .into_iter()
        .map(|v| v * scale)
        .collect()
}

/// Six talkers summed, one of `files` each (cycled), every one looped from its own
/// offset and brought to one level: babble of real voices, `len` samples at 16 kHz.
pub fn babble(files: &[std::path::PathBuf], len: usize, seed: u64) -> Vec<f32> {
    let mut sum = vec![0.0f32; len];
    for k in 0..6 {
        let (voice, rate) = read_wav(&files[k % files.len()]);
        assert_eq!(rate, 16_000, "babble is made of 16 kHz corpus files");
        let level = rms(&voice).max(1e-6);
        let offset = (seed as usize * 7919 + k * 104_729) % voice.len();
        for (i, out) in sum.iter_mut().enumerate() {
            *out += voice[(offset + i) % voice.len()] / level;
        }
    }
    sum
}

/// Babble of six corpus talkers other than `not_speaker`, picked by `seed`.
pub fn corpus_babble(len: usize, not_speaker: &str, seed: u64) -> Vec<f32> {
    let others: Vec<std::path::PathBuf> = speaker_files(&testdata())
        .into_iter()
        .filter(|(s, _)| s != not_speaker)
        .map(|(_, p)| p)
        .collect();
    let picked: Vec<std::path::PathBuf> = (0..6)
        .map(|k| others[(seed as usize * 13 + k * 11) % others.len()].clone())
        .collect();
    babble(&picked, len, seed)
}

/// A telephone codec ffmpeg runs.
#[derive(Debug, Clone, Copy)]
pub enum Codec {
    /// G.711 μ-law.
    MuLaw,
    /// GSM 06.10 full rate (libgsm).
    Gsm,
}

/// `x` through a telephone line by ffmpeg: 300–3400 Hz, 8 kHz, the codec,
/// decoded again; returned at 8 kHz.
pub fn telephone_codec(x: &[f32], rate: u32, codec: Codec) -> (Vec<f32>, u32) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (input, output) = (dir.path().join("in.wav"), dir.path().join("out.wav"));
    let (coded, args) = match codec {
        Codec::MuLaw => (dir.path().join("coded.wav"), ["-c:a", "pcm_mulaw"]),
        Codec::Gsm => (dir.path().join("coded.gsm"), ["-c:a", "libgsm"]),
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&input, spec).expect("wav");
    for v in x {
        w.write_sample((v.clamp(-1.0, 1.0) * 32_767.0) as i16)
            .expect("write");
    }
    w.finalize().expect("wav");
    let ffmpeg = |args: &[&std::ffi::OsStr]| {
        let out = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .output()
            .expect("ffmpeg is installed (scripts/setup.sh lists it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let band = "highpass=f=300,lowpass=f=3400";
    let mut encode: Vec<&std::ffi::OsStr> = vec!["-i".as_ref(), input.as_os_str()];
    encode.extend(["-af", band, "-ar", "8000", "-ac", "1"].map(std::ffi::OsStr::new));
    encode.extend(args.map(std::ffi::OsStr::new));
    encode.push(coded.as_os_str());
    ffmpeg(&encode);
    ffmpeg(&[
        "-i".as_ref(),
        coded.as_os_str(),
        "-c:a".as_ref(),
        "pcm_s16le".as_ref(),
        output.as_os_str(),
    ]);
    read_wav(&output)
}
