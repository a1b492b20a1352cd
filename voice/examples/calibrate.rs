//! Calibrates the verification threshold on the shared voice corpus.
//!
//! Every speaker but `arctic-aew` is enrolled on its first three files (name
//! order, clean); each of its other files is a genuine trial and every file
//! of every other speaker an impostor trial. Trials are run clean, with white
//! and pink noise at 10 and 20 dB SNR (fixed seeds), and through a telephone
//! channel (300–3400 Hz band-pass, 8 kHz, 8-bit μ-law). Prints per condition
//! the trial counts, gate refusals, the median estimated SNR, how many samples
//! read as narrow-band, the EER, FAR and FRR at the thresholds the engine holds
//! each sample to, FRR at the clean threshold alone, the threshold that keeps
//! the condition's FAR at or under 1 %, and the EER of MFCC statistics alone.
//!
//!   cargo run --release -p mixdown-voice --example calibrate

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use mixdown_voice::{
    DEFAULT_THRESHOLD, Embedding, GateConfig, N_MFCC, SignatureAnalyzer, SpeechSample, Thresholds,
};

/// Gates as deployed, but for length: VCTK's "Please call Stella." holds
/// 1.1 s of speech and opens two speakers' enrollments.
fn gates() -> GateConfig {
    GateConfig {
        min_speech_seconds: 1.0,
        ..GateConfig::default()
    }
}

const CONDITIONS: [&str; 6] = [
    "clean",
    "white 10 dB",
    "pink 10 dB",
    "white 20 dB",
    "pink 20 dB",
    "telephone",
];

/// What one file gives under one condition.
struct Trial {
    embedding: Embedding,
    mfcc: Vec<f32>,
    /// The threshold the engine holds this sample to.
    threshold: f32,
    snr_db: f32,
    narrow_band: bool,
}

fn main() {
    let files = support::corpus_files();
    let encoder = support::encoder();
    let analyzer = SignatureAnalyzer::default();
    let mut trials: BTreeMap<(&str, String), Result<Trial, &'static str>> = BTreeMap::new();
    for (i, (_, name)) in files.iter().enumerate() {
        let (x, rate) = support::corpus(name);
        for (c, condition) in CONDITIONS.iter().enumerate() {
            let (y, r) = degrade(&x, rate, c, i as u64);
            let t = SpeechSample::new(&y, r, &gates())
                .map_err(|e| e.code())
                .and_then(|s| {
                    let embedding = encoder.embed(s.samples()).ok_or("not_speech")?;
                    let sig = analyzer.signature(s.samples());
                    Ok(Trial {
                        threshold: Thresholds::default().for_sample(&s),
                        snr_db: s.snr_db(),
                        narrow_band: s.is_narrow_band(),
                        embedding,
                        mfcc: sig.mfcc_mean[1..]
                            .iter()
                            .chain(&sig.mfcc_std[1..])
                            .copied()
                            .collect(),
                    })
                });
            trials.insert((condition, name.clone()), t);
        }
    }
    let norm = MfccNorm::fit(CONDITIONS[0], &trials);
    let mut speakers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (s, n) in &files {
        speakers.entry(s).or_default().push(n);
    }
    let enrolled: Vec<(&str, Embedding, Vec<f32>)> = speakers
        .iter()
        .filter(|(s, _)| **s != "arctic-aew")
        .map(|(s, names)| {
            let clean: Vec<&Trial> = names[..3]
                .iter()
                .map(|n| {
                    trials[&(CONDITIONS[0], n.to_string())]
                        .as_ref()
                        .expect("enrollment files pass the gates")
                })
                .collect();
            let e = Embedding::mean(clean.iter().map(|t| &t.embedding)).expect("non-zero");
            let m = mean_vec(clean.iter().map(|t| norm.apply(&t.mfcc)));
            (*s, e, m)
        })
        .collect();
    println!(
        "enrolled {} speakers on 3 clean files each; gates as default but min speech 1.0 s",
        enrolled.len()
    );
    println!(
        "thresholds: the engine's per sample (@thr), the clean one alone (@{DEFAULT_THRESHOLD}), \
         and the least that keeps the condition's FAR at or under 1 % (thr 1%)"
    );
    println!(
        "{:<12} {:>7} {:>8} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8} {:>7} {:>8}",
        "condition",
        "genuine",
        "impostor",
        "refused",
        "SNR dB",
        "narrow",
        "EER",
        "FAR@thr",
        "FRR@thr",
        "FRR@0.79",
        "thr 1%",
        "MFCC EER"
    );
    for condition in CONDITIONS {
        report(condition, &files, &trials, &enrolled, &norm);
    }
}

/// Scores of one condition: (genuine, impostor) for embeddings and MFCCs, and
/// the gate refusals.
fn report(
    condition: &str,
    files: &[(String, String)],
    trials: &BTreeMap<(&str, String), Result<Trial, &'static str>>,
    enrolled: &[(&str, Embedding, Vec<f32>)],
    norm: &MfccNorm,
) {
    // (score, threshold the engine held the sample to)
    let (mut genuine, mut impostor, mut mfcc_genuine, mut mfcc_impostor) =
        (vec![], vec![], vec![], vec![]);
    let mut refused: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut snrs, mut narrow) = (vec![], 0);
    for (speaker, name) in files {
        let trial = match &trials[&(condition, name.clone())] {
            Ok(t) => t,
            Err(code) => {
                *refused.entry(code).or_default() += 1;
                continue;
            }
        };
        snrs.push(trial.snr_db);
        narrow += usize::from(trial.narrow_band);
        let enrollment_file = |s: &str| {
            files
                .iter()
                .filter(|(sp, _)| sp == s)
                .take(3)
                .any(|(_, n)| n == name)
        };
        for (who, e, m) in enrolled {
            let (score, mscore) = (
                (e.cosine(&trial.embedding), trial.threshold),
                cosine(m, &norm.apply(&trial.mfcc)),
            );
            if *who == speaker.as_str() {
                if !enrollment_file(who) {
                    genuine.push(score);
                    mfcc_genuine.push(mscore);
                }
            } else {
                impostor.push(score);
                mfcc_impostor.push(mscore);
            }
        }
    }
    let rate = |scores: &[(f32, f32)], pass: &dyn Fn(f32, f32) -> bool| {
        scores.iter().filter(|(s, t)| pass(*s, *t)).count() as f32 / scores.len() as f32
    };
    let far = rate(&impostor, &|s, t| s >= t);
    let frr = rate(&genuine, &|s, t| s < t);
    let frr_clean = rate(&genuine, &|s, _| s < DEFAULT_THRESHOLD);
    let (genuine, impostor): (Vec<f32>, Vec<f32>) = (
        genuine.iter().map(|(s, _)| *s).collect(),
        impostor.iter().map(|(s, _)| *s).collect(),
    );
    snrs.sort_by(f32::total_cmp);
    println!(
        "{condition:<12} {:>7} {:>8} {:>7} {:>7.1} {:>7} {:>6.2}% {:>7.2}% {:>7.2}% {:>7.2}% {:>7.3} {:>7.2}%   refused: {refused:?}",
        genuine.len(),
        impostor.len(),
        refused.values().sum::<usize>(),
        snrs.get(snrs.len() / 2).copied().unwrap_or(f32::NAN),
        narrow,
        eer(&genuine, &impostor) * 100.0,
        far * 100.0,
        frr * 100.0,
        frr_clean * 100.0,
        threshold_for_far(&impostor, 0.01),
        eer(&mfcc_genuine, &mfcc_impostor) * 100.0
    );
}

/// Smallest multiple of 0.005 at which at most `target` of impostors pass.
fn threshold_for_far(impostor: &[f32], target: f32) -> f32 {
    (0..=200)
        .map(|k| k as f32 * 0.005)
        .find(|t| {
            impostor.iter().filter(|s| *s >= t).count() as f32 <= target * impostor.len() as f32
        })
        .unwrap_or(1.0)
}

/// Equal error rate: the mean of FAR and FRR where they are closest.
fn eer(genuine: &[f32], impostor: &[f32]) -> f32 {
    let mut candidates: Vec<f32> = genuine.iter().chain(impostor).copied().collect();
    candidates.sort_by(f32::total_cmp);
    candidates
        .iter()
        .map(|t| {
            let far = impostor.iter().filter(|s| *s >= t).count() as f32 / impostor.len() as f32;
            let frr = genuine.iter().filter(|s| *s < t).count() as f32 / genuine.len() as f32;
            ((far - frr).abs(), (far + frr) / 2.0)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(0.0, |(_, e)| e)
}

/// Per-dimension standardisation of MFCC statistics, fitted on clean files:
/// raw cepstral statistics differ in scale by orders of magnitude.
struct MfccNorm {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl MfccNorm {
    fn fit(
        condition: &str,
        trials: &BTreeMap<(&str, String), Result<Trial, &'static str>>,
    ) -> Self {
        let v: Vec<&Vec<f32>> = trials
            .iter()
            .filter(|((c, _), _)| *c == condition)
            .filter_map(|(_, t)| t.as_ref().ok())
            .map(|t| &t.mfcc)
            .collect();
        let mean = mean_vec(v.iter().map(|x| x.to_vec()));
        let dims = 2 * (N_MFCC - 1);
        let std = (0..dims)
            .map(|d| {
                (v.iter().map(|x| (x[d] - mean[d]).powi(2)).sum::<f32>() / v.len() as f32)
                    .sqrt()
                    .max(1e-6)
            })
            .collect();
        Self { mean, std }
    }

    fn apply(&self, x: &[f32]) -> Vec<f32> {
        x.iter()
            .zip(&self.mean)
            .zip(&self.std)
            .map(|((v, m), s)| (v - m) / s)
            .collect()
    }
}

fn mean_vec(vs: impl Iterator<Item = Vec<f32>>) -> Vec<f32> {
    let mut sum: Vec<f32> = Vec::new();
    let mut n = 0;
    for v in vs {
        sum.resize(v.len(), 0.0);
        sum.iter_mut().zip(&v).for_each(|(s, x)| *s += x);
        n += 1;
    }
    sum.iter().map(|s| s / n.max(1) as f32).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt()
        * b.iter().map(|x| x * x).sum::<f32>().sqrt())
}

/// The recording under condition `c`, as (samples, sample rate).
fn degrade(x: &[f32], rate: u32, c: usize, seed: u64) -> (Vec<f32>, u32) {
    let speech_rms = support::rms(x);
    let add = |noise: Vec<f32>, snr_db: f32| -> Vec<f32> {
        let scale = speech_rms / 10f32.powf(snr_db / 20.0) / support::rms(&noise);
        x.iter().zip(&noise).map(|(s, n)| s + n * scale).collect()
    };
    match c {
        0 => (x.to_vec(), rate),
        1 => (
            add(support::white_noise(x.len(), 1.0, 1000 + seed), 10.0),
            rate,
        ),
        2 => (
            add(pink(&support::white_noise(x.len(), 1.0, 2000 + seed)), 10.0),
            rate,
        ),
        3 => (
            add(support::white_noise(x.len(), 1.0, 3000 + seed), 20.0),
            rate,
        ),
        4 => (
            add(pink(&support::white_noise(x.len(), 1.0, 4000 + seed)), 20.0),
            rate,
        ),
        _ => (telephone(x), 8_000),
    }
}

/// Pink (1/f) noise from white by Paul Kellet's economy filter.
fn pink(white: &[f32]) -> Vec<f32> {
    let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
    white
        .iter()
        .map(|w| {
            b0 = 0.99765 * b0 + w * 0.0990460;
            b1 = 0.96300 * b1 + w * 0.2965164;
            b2 = 0.57000 * b2 + w * 1.0526913;
            b0 + b1 + b2 + w * 0.1848
        })
        .collect()
}

/// 300–3400 Hz band-pass (windowed-sinc FIR at 16 kHz), decimation to 8 kHz,
/// 8-bit μ-law.
fn telephone(x: &[f32]) -> Vec<f32> {
    let taps = support::band_pass(300.0, 3400.0, 16_000.0, 255);
    support::filter(x, &taps, 2)
        .into_iter()
        .map(mu_law)
        .collect()
}

/// Encodes to 8-bit μ-law (μ = 255) and back.
fn mu_law(x: f32) -> f32 {
    const MU: f32 = 255.0;
    let x = x.clamp(-1.0, 1.0);
    let y = x.signum() * (1.0 + MU * x.abs()).ln() / (1.0 + MU).ln();
    let q = (y * 127.0).round() / 127.0;
    q.signum() * ((1.0 + MU).powf(q.abs()) - 1.0) / MU
}
