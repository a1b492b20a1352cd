//! Voice activity detection: frame energy against an adaptive noise floor,
//! checked by spectral flatness, with a hangover.
//!
//! The rule, on 20 ms frames every 10 ms at 16 kHz:
//! 1. the noise floor is the 10th percentile of the frame energies (dB), so a
//!    recording that is mostly speech still finds its quiet gaps;
//! 2. a frame *qualifies* at a margin when its energy is that many dB above
//!    the floor and above `absolute_floor_dbfs`, and its spectral flatness
//!    (100–4000 Hz) lies between `min_flatness` (a pure tone) and
//!    `max_flatness` (white noise) — unless it stands `strong_margin_db` above
//!    the floor, where loud fricatives are let through whatever their flatness;
//! 3. hysteresis: a run of frames qualifying at `extend_margin_db` is speech if
//!    it holds at least `min_onset_frames` frames qualifying at
//!    `seed_margin_db`. The high seed margin keeps room noise that wanders a
//!    few dB (breaths, rumble: VCTK's pauses span −57 to −42 dBFS) from
//!    counting, the low extension margin keeps the weak consonants around a
//!    vowel, also in noise;
//! 4. every speech run is extended by `hangover_frames`, so word endings and
//!    short stops between syllables are not cut off.
//!
//! Steady signals (a tone, stationary noise) never rise above their own floor,
//! so they yield no speech at all.

use crate::spectrum::Stft;

/// Samples per analysis frame (20 ms at 16 kHz).
const FRAME: usize = 320;
/// Samples between frame starts (10 ms at 16 kHz).
pub(crate) const HOP: usize = 160;
const FFT: usize = 512;
/// Band in which flatness is measured, Hz: where voiced speech has its
/// harmonic structure and a telephone channel still carries it.
const FLATNESS_BAND: (f32, f32) = (100.0, 4000.0);
/// Where telephone bandwidth (300–3400 Hz, or 4 kHz at 8 kHz sampling) ends, with room
/// for a resampler's transition band.
pub(crate) const HIGH_BAND_HZ: f32 = 3_800.0;

/// Tunable parameters of the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Energy above the noise floor that starts a speech run, dB.
    pub seed_margin_db: f32,
    /// Energy above the noise floor that continues a speech run, dB.
    pub extend_margin_db: f32,
    /// Energy above the floor at which flatness is no longer checked, dB.
    pub strong_margin_db: f32,
    /// Frames quieter than this are never active, dBFS.
    pub absolute_floor_dbfs: f32,
    /// Flatness below this is a pure tone, not a voice.
    pub min_flatness: f32,
    /// Flatness above this is noise-like.
    pub max_flatness: f32,
    /// Seed frames a run needs; fewer is a click.
    pub min_onset_frames: usize,
    /// Frames kept after each active run.
    pub hangover_frames: usize,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            seed_margin_db: 12.0,
            extend_margin_db: 6.0,
            strong_margin_db: 20.0,
            absolute_floor_dbfs: -65.0,
            min_flatness: 1e-4,
            max_flatness: 0.5,
            min_onset_frames: 3,
            hangover_frames: 10,
        }
    }
}

/// What the detector found in a signal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Activity {
    /// One flag per 10 ms frame.
    pub(crate) speech: Vec<bool>,
    /// Mean power of all frames (linear, full scale = 1).
    pub(crate) mean_power: f64,
    /// Mean power of the quietest tenth of the frames.
    pub(crate) noise_power: f64,
    /// Share of the speech frames' spectral power above [`HIGH_BAND_HZ`] (0 without
    /// speech).
    pub(crate) high_band_share: f32,
    /// Mean spectral flatness of the quietest tenth of the frames: near that of
    /// white noise for a hiss, low for a floor of other voices.
    pub(crate) floor_flatness: f32,
    /// How fast the loud frames' energy falls at the steepest (95th percentile),
    /// dB per second: speech stops abruptly in a dry room, a reverberant room
    /// holds every stop up at its own decay rate.
    pub(crate) steepest_decay_db_per_s: f32,
}

impl Activity {
    /// Seconds of signal flagged as speech.
    pub(crate) fn speech_seconds(&self, sample_rate: u32) -> f32 {
        (self.speech.iter().filter(|s| **s).count() * HOP) as f32 / sample_rate as f32
    }

    /// The samples of `signal` that lie in speech frames.
    pub(crate) fn keep_speech(&self, signal: &[f32]) -> Vec<f32> {
        self.speech
            .iter()
            .enumerate()
            .filter(|(_, s)| **s)
            .flat_map(|(i, _)| {
                &signal[(i * HOP).min(signal.len())..((i + 1) * HOP).min(signal.len())]
            })
            .copied()
            .collect()
    }
}

/// Runs the detector over a 16 kHz signal.
pub(crate) fn detect(signal: &[f32], config: &VadConfig) -> Activity {
    let frames = frame_stats(signal);
    let floor_db = percentile(frames.iter().map(|f| f.energy_db), 0.10);
    let qualifies = |margin| -> Vec<bool> {
        frames
            .iter()
            .map(|f| f.qualifies(floor_db, margin, config))
            .collect()
    };
    let runs = seeded_runs(
        &qualifies(config.extend_margin_db),
        &qualifies(config.seed_margin_db),
        config.min_onset_frames,
    );
    let speech = with_hangover(&runs, config.hangover_frames);
    let (mean_power, noise_power) = powers(&frames);
    let (mut high, mut total) = (0.0, 0.0);
    for (frame, _) in frames.iter().zip(&speech).filter(|(_, s)| **s) {
        high += frame.high_band_power;
        total += frame.spectral_power;
    }
    Activity {
        speech,
        mean_power,
        noise_power,
        high_band_share: if total > 0.0 {
            (high / total) as f32
        } else {
            0.0
        },
        floor_flatness: floor_flatness(&frames),
        steepest_decay_db_per_s: steepest_decay(&frames),
    }
}

fn floor_flatness(frames: &[FrameStats]) -> f32 {
    let mut by_energy: Vec<&FrameStats> = frames.iter().collect();
    by_energy.sort_by(|a, b| a.energy_db.total_cmp(&b.energy_db));
    let quiet = &by_energy[..by_energy.len().div_ceil(10)];
    quiet.iter().map(|f| f.flatness).sum::<f32>() / quiet.len().max(1) as f32
}

/// Frames over which a fall of energy is measured (30 ms).
const DECAY_SPAN: usize = 3;
/// How far below the voice's loud level (95th percentile of the frame
/// energies) a frame may be for its fall to count, dB: measured from the loud
/// level, not the floor, so a clip of continuous speech without pauses still
/// has falls to measure.
const DECAY_FROM_DB: f32 = 15.0;

fn steepest_decay(frames: &[FrameStats]) -> f32 {
    let loud_db = percentile(frames.iter().map(|f| f.energy_db), 0.95);
    let falls = frames
        .windows(DECAY_SPAN + 1)
        .filter(|w| w[0].energy_db >= loud_db - DECAY_FROM_DB)
        .map(|w| (w[0].energy_db - w[DECAY_SPAN].energy_db).max(0.0));
    let per_second = crate::SAMPLE_RATE as f32 / (DECAY_SPAN * HOP) as f32;
    let steep = percentile(falls, 0.95);
    if steep.is_finite() {
        steep * per_second
    } else {
        0.0
    }
}

/// Energy and flatness of one frame.
struct FrameStats {
    energy_db: f32,
    power: f64,
    flatness: f32,
    /// Sum of the power spectrum, and its part above [`HIGH_BAND_HZ`].
    spectral_power: f64,
    high_band_power: f64,
}

impl FrameStats {
    fn qualifies(&self, floor_db: f32, margin_db: f32, c: &VadConfig) -> bool {
        let above = self.energy_db - floor_db;
        if self.energy_db < c.absolute_floor_dbfs || above < margin_db {
            return false;
        }
        above >= c.strong_margin_db || (c.min_flatness..=c.max_flatness).contains(&self.flatness)
    }
}

fn frame_stats(signal: &[f32]) -> Vec<FrameStats> {
    let stft = Stft::new(FFT, HOP);
    let lo = (FLATNESS_BAND.0 * FFT as f32 / crate::SAMPLE_RATE as f32) as usize;
    let hi = (FLATNESS_BAND.1 * FFT as f32 / crate::SAMPLE_RATE as f32) as usize;
    let high = (HIGH_BAND_HZ * FFT as f32 / crate::SAMPLE_RATE as f32).ceil() as usize;
    // The STFT centres its frames; frame i of the VAD starts at i·HOP, so
    // shifting the signal by half a frame lines the two up.
    let shifted = &signal[(FRAME / 2).min(signal.len())..];
    let spectra = stft.power(shifted);
    let count = signal.len().saturating_sub(FRAME) / HOP + 1;
    (0..count)
        .zip(spectra.frames())
        .map(|(i, spectrum)| {
            let frame = &signal[i * HOP..(i * HOP + FRAME).min(signal.len())];
            let power = frame.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / FRAME as f64;
            let sum = |bins: &[f32]| bins.iter().map(|p| f64::from(*p)).sum::<f64>();
            FrameStats {
                energy_db: (10.0 * (power + 1e-12).log10()) as f32,
                power,
                flatness: flatness(&spectrum[lo..=hi]),
                spectral_power: sum(spectrum),
                high_band_power: sum(&spectrum[high..]),
            }
        })
        .collect()
}

/// Geometric over arithmetic mean of the power spectrum: 1 for white noise,
/// near 0 for a tone.
fn flatness(spectrum: &[f32]) -> f32 {
    let n = spectrum.len() as f64;
    let (mut log_sum, mut sum) = (0.0f64, 0.0f64);
    for p in spectrum {
        let p = *p as f64 + 1e-20;
        log_sum += p.ln();
        sum += p;
    }
    ((log_sum / n).exp() / (sum / n)) as f32
}

fn percentile(values: impl Iterator<Item = f32>, q: f32) -> f32 {
    let mut v: Vec<f32> = values.collect();
    if v.is_empty() {
        return f32::NEG_INFINITY;
    }
    v.sort_by(f32::total_cmp);
    v[((v.len() - 1) as f32 * q).round() as usize]
}

/// Runs of `weak` frames that hold at least `min_seeds` `seed` frames.
fn seeded_runs(weak: &[bool], seed: &[bool], min_seeds: usize) -> Vec<bool> {
    let mut out = weak.to_vec();
    let mut i = 0;
    while i < out.len() {
        let run = out[i..].iter().take_while(|a| **a).count();
        let seeds = seed[i..i + run].iter().filter(|s| **s).count();
        if run > 0 && seeds < min_seeds {
            out[i..i + run].fill(false);
        }
        i += run.max(1);
    }
    out
}

fn with_hangover(active: &[bool], hangover: usize) -> Vec<bool> {
    let mut since_active = usize::MAX;
    active
        .iter()
        .map(|a| {
            since_active = if *a {
                0
            } else {
                since_active.saturating_add(1)
            };
            since_active <= hangover
        })
        .collect()
}

fn powers(frames: &[FrameStats]) -> (f64, f64) {
    let mean = |p: &[f64]| {
        if p.is_empty() {
            0.0
        } else {
            p.iter().sum::<f64>() / p.len() as f64
        }
    };
    let mut p: Vec<f64> = frames.iter().map(|f| f.power).collect();
    let mean_power = mean(&p);
    // The quietest tenth of the frames, whether or not the VAD kept them:
    // tightly cut recordings have too few pauses to average, and a noisy one
    // hides its quiet consonants in the noise either way.
    p.sort_by(f64::total_cmp);
    (mean_power, mean(&p[..p.len().div_ceil(10)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangover_extends_a_run_by_the_given_number_of_frames() {
        let out = with_hangover(&[false, true, false, false, false, false], 2);
        assert_eq!(out, [false, true, true, true, false, false]);
    }

    #[test]
    fn only_runs_holding_enough_seed_frames_are_kept() {
        let weak = [true, true, true, false, true, true, true, true, false, true];
        let seed = [
            false, true, false, false, false, true, true, false, false, true,
        ];
        let out = seeded_runs(&weak, &seed, 2);
        assert_eq!(
            out,
            [
                false, false, false, false, true, true, true, true, false, false
            ]
        );
    }

    #[test]
    fn a_steady_tone_contains_no_speech() {
        let tone: Vec<f32> = (0..32_000).map(|i| 0.3 * (i as f32 * 0.2).sin()).collect();
        let a = detect(&tone, &VadConfig::default());
        assert!(a.speech.iter().all(|s| !s));
    }
}
