//! Tempo: an onset-strength envelope (spectral flux of log-compressed magnitudes, each
//! octave weighing alike, about 86 frames a second), its autocorrelation over the whole
//! track, and the beat period whose multiples also repeat, weighed by a prior on tempo.
//!
//! Flux summed bin by bin weighs by bandwidth: a snare or a hat spreads over a thousand
//! bins, a kick or a bass note over a dozen, so a backbeat's snares outweigh its kicks,
//! the envelope repeats at two beats rather than one, and fast songs read at half their
//! tempo. Weighing each bin by the inverse of its frequency gives every octave the same
//! say, as the ear does.
//!
//! Octave errors (half or double the annotated tempo) are the usual failure: a beat
//! repeats at twice its period and its eighth notes at half. Scoring a period by the
//! autocorrelation at 1, 2 and 4 times it favours the beat over its subdivisions, and a
//! log-normal prior centred on 120 BPM (one octave wide, as librosa's default) chooses
//! between levels that repeat equally well.

use super::spectrum::{Spectra, vertex};
use serde::{Deserialize, Serialize};

/// Frame of the onset spectra, in samples of the analysis rate (93 ms at 11 kHz).
const FRAME: usize = 1_024;
/// Step between onset frames (11.6 ms at 11 kHz).
const HOP: usize = 128;
/// Magnitudes are compressed as `ln(1 + COMPRESSION * m)`: flux then follows relative
/// rather than absolute changes, so quiet instruments count.
const COMPRESSION: f32 = 1_000.0;
/// Onsets above this frequency are hi-hat noise as much as rhythm; below it all counts.
const TOP_HZ: f64 = 5_000.0;
/// Bins below this frequency weigh as much as a bin at it: the few bins of the lowest
/// octaves hold rumble and drift as much as notes.
const WEIGHT_FLOOR_HZ: f64 = 80.0;
/// The slowest and fastest tempo reported, BPM.
const SLOWEST_BPM: f64 = 40.0;
const FASTEST_BPM: f64 = 240.0;
/// Centre and width (octaves) of the prior on tempo.
const PRIOR_BPM: f64 = 120.0;
const PRIOR_OCTAVES: f64 = 1.0;
/// Multiples of a period whose repetition counts for it, with their weights.
const MULTIPLES: [(usize, f64); 3] = [(1, 1.0), (2, 0.5), (4, 0.25)];
/// Less audio than this has no tempo, seconds.
const SHORTEST_SECONDS: f64 = 6.0;
/// The envelope's slow swell is removed with a moving average this long, seconds.
const DETREND_SECONDS: f64 = 1.0;

/// A track's tempo.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tempo {
    /// Beats per minute.
    pub bpm: f64,
    /// How strongly the onsets repeat at the beat period: their normalised autocorrelation
    /// there, 0 (no repetition) to 1.
    pub confidence: f64,
}

/// Onset strength, frame by frame.
pub(crate) struct OnsetEnvelope {
    spectra: Spectra,
    top_bin: usize,
    /// Each bin's weight in the flux, summing to 1: the same for every octave.
    weights: Vec<f32>,
    previous: Vec<f32>,
    strength: Vec<f32>,
    frame_rate: f64,
}

impl OnsetEnvelope {
    /// An envelope of a signal at `rate` Hz.
    pub(crate) fn new(rate: f64) -> Self {
        let spectra = Spectra::new(FRAME, HOP);
        let top_bin = ((TOP_HZ * FRAME as f64 / rate) as usize).min(FRAME / 2);
        let inverse: Vec<f64> = (0..=top_bin)
            .map(|bin| match bin {
                // The mean level, not a pitch.
                0 => 0.0,
                _ => 1.0 / spectra.bin_hz(bin, rate).max(WEIGHT_FLOOR_HZ),
            })
            .collect();
        let sum: f64 = inverse.iter().sum();
        let weights = inverse.iter().map(|w| (w / sum) as f32).collect();
        Self {
            spectra,
            top_bin,
            weights,
            previous: Vec::new(),
            strength: Vec::new(),
            frame_rate: rate / HOP as f64,
        }
    }

    /// Takes the next mono samples.
    pub(crate) fn push(&mut self, samples: &[f32]) {
        let (top, weights) = (self.top_bin, &self.weights);
        let (previous, strength) = (&mut self.previous, &mut self.strength);
        self.spectra.push(samples, |magnitudes| {
            let compressed = magnitudes[..=top].iter().map(|m| (COMPRESSION * m).ln_1p());
            if previous.is_empty() {
                previous.extend(compressed);
                strength.push(0.0);
                return;
            }
            let mut flux = 0.0;
            for ((old, new), weight) in previous.iter_mut().zip(compressed).zip(weights) {
                flux += weight * (new - *old).max(0.0);
                *old = new;
            }
            strength.push(flux);
        });
    }

    /// Onset frames per second.
    pub(crate) fn frame_rate(&self) -> f64 {
        self.frame_rate
    }

    /// The strength of every frame so far.
    pub(crate) fn strength(&self) -> &[f32] {
        &self.strength
    }
}

/// The tempo of an onset envelope sampled at `frame_rate`; `None` when too short or
/// without any onset.
pub(crate) fn estimate(strength: &[f32], frame_rate: f64) -> Option<Tempo> {
    if (strength.len() as f64) < SHORTEST_SECONDS * frame_rate {
        return None;
    }
    let novelty = smooth(&detrend(strength, (DETREND_SECONDS * frame_rate) as usize));
    let shortest = (60.0 / FASTEST_BPM * frame_rate).floor() as usize;
    let longest = (60.0 / SLOWEST_BPM * frame_rate).ceil() as usize;
    let acf = autocorrelation(&novelty, (longest + 1) * MULTIPLES[2].0 + 1)?;
    let at = |lag: usize| acf.get(lag).copied().unwrap_or(0.0);
    let score = |lag: usize| -> f64 {
        let repeats: f64 = MULTIPLES.iter().map(|&(k, w)| w * at(k * lag)).sum();
        repeats * prior(60.0 * frame_rate / lag as f64)
    };
    let best = (shortest.max(2)..=longest).max_by(|&a, &b| score(a).total_cmp(&score(b)))?;
    let lag = best as f64 + vertex(score(best - 1), score(best), score(best + 1));
    Some(Tempo {
        bpm: 60.0 * frame_rate / lag,
        confidence: at(best).clamp(0.0, 1.0),
    })
}

/// The envelope minus its moving average, half-wave rectified: what stands out.
fn detrend(strength: &[f32], window: usize) -> Vec<f64> {
    let half = window / 2;
    let mut prefix = Vec::with_capacity(strength.len() + 1);
    prefix.push(0.0_f64);
    for &s in strength {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + f64::from(s));
    }
    (0..strength.len())
        .map(|i| {
            let (lo, hi) = (i.saturating_sub(half), (i + half + 1).min(strength.len()));
            let mean = (prefix[hi] - prefix[lo]) / (hi - lo) as f64;
            (f64::from(strength[i]) - mean).max(0.0)
        })
        .collect()
}

/// The novelty spread over five frames (a triangle): a beat whose period is not a whole
/// number of frames then still correlates at the nearest whole lag.
fn smooth(novelty: &[f64]) -> Vec<f64> {
    const WEIGHTS: [f64; 5] = [1.0 / 9.0, 2.0 / 9.0, 3.0 / 9.0, 2.0 / 9.0, 1.0 / 9.0];
    (0..novelty.len())
        .map(|i| {
            WEIGHTS
                .iter()
                .enumerate()
                .filter_map(|(k, w)| {
                    (i + k)
                        .checked_sub(2)
                        .and_then(|j| novelty.get(j))
                        .map(|v| v * w)
                })
                .sum()
        })
        .collect()
}

/// Autocorrelation at lags `0..lags`, each lag's sum divided by its number of products and
/// the whole by lag 0's; `None` for a signal without energy.
fn autocorrelation(signal: &[f64], lags: usize) -> Option<Vec<f64>> {
    let lags = lags.min(signal.len());
    let acf: Vec<f64> = (0..lags)
        .map(|lag| {
            let products = signal.len() - lag;
            let sum: f64 = signal[..products]
                .iter()
                .zip(&signal[lag..])
                .map(|(a, b)| a * b)
                .sum();
            sum / products as f64
        })
        .collect();
    let zero = *acf.first()?;
    (zero > 0.0).then(|| acf.iter().map(|v| v / zero).collect())
}

/// The log-normal prior on tempo: 1 at [`PRIOR_BPM`].
fn prior(bpm: f64) -> f64 {
    let octaves = (bpm / PRIOR_BPM).log2() / PRIOR_OCTAVES;
    (-0.5 * octaves * octaves).exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_signals::{backbeat, click_track, drum_pattern};

    fn tempo_of(samples: &[f32], rate: f64) -> Option<Tempo> {
        let mut envelope = OnsetEnvelope::new(rate);
        for chunk in samples.chunks(4_000) {
            envelope.push(chunk);
        }
        estimate(envelope.strength(), envelope.frame_rate())
    }

    #[test]
    fn click_tracks_give_their_tempo_within_one_percent() {
        for bpm in [72.0, 90.0, 120.0, 128.0, 150.0] {
            let tempo = tempo_of(&click_track(bpm, 30.0), 11_025.0).expect("a tempo");
            assert!((tempo.bpm / bpm - 1.0).abs() < 0.01, "{bpm}: {tempo:?}");
            assert!(tempo.confidence > 0.3, "{bpm}: {tempo:?}");
        }
    }

    #[test]
    fn a_fast_click_track_is_its_tempo_or_half_of_it() {
        // Bare clicks repeat as well at twice their period: the prior alone picks the
        // level, and 87 BPM lies nearer 120 than 174 does.
        let tempo = tempo_of(&click_track(174.0, 30.0), 11_025.0).expect("a tempo");
        let ratio = tempo.bpm / 174.0;
        assert!(
            (ratio - 1.0).abs() < 0.01 || (ratio - 0.5).abs() < 0.005,
            "{tempo:?}"
        );
    }

    #[test]
    fn a_beat_with_eighth_note_hats_keeps_its_beat() {
        for bpm in [96.0, 124.0] {
            let tempo = tempo_of(&drum_pattern(bpm, 30.0), 11_025.0).expect("a tempo");
            assert!((tempo.bpm / bpm - 1.0).abs() < 0.02, "{bpm}: {tempo:?}");
        }
    }

    #[test]
    fn a_fast_backbeat_is_not_halved() {
        // Weighed by bandwidth, the snares on 2 and 4 would drown the kicks on 1 and 3, and
        // the envelope would repeat at two beats.
        for bpm in [96.0, 144.0, 160.0] {
            let tempo = tempo_of(&backbeat(bpm, 30.0), 11_025.0).expect("a tempo");
            assert!((tempo.bpm / bpm - 1.0).abs() < 0.02, "{bpm}: {tempo:?}");
        }
    }

    #[test]
    fn silence_and_short_clips_have_no_tempo() {
        assert_eq!(tempo_of(&vec![0.0; 11_025 * 10], 11_025.0), None);
        assert_eq!(tempo_of(&click_track(120.0, 3.0), 11_025.0), None);
    }
}
