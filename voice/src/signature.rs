//! The classic voice signature: MFCC statistics, pitch, spectral centroid and
//! roll-off, summarised over an utterance.
//!
//! Analysis settings are speech-sized rather than librosa's music defaults:
//! 512-point frames (32 ms) every 10 ms, 40 mel bands, 20 coefficients; YIN on
//! 64 ms frames between 60 and 400 Hz, which spans low male to high female
//! voices. `bench/voice-check.sh` runs librosa with the same settings.

use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};

use crate::SAMPLE_RATE;
use crate::lanes::{lane_dot, lane_sum};
use crate::mfcc::{Cepstrum, log_mel_frame};
use crate::pitch::{PitchFrame, Yin, YinConfig};
use crate::spectrum::{MelBank, Stft, bin_frequencies};

/// Number of cepstral coefficients in the signature.
pub const N_MFCC: usize = 20;
const N_FFT: usize = 512;
const HOP: usize = 160;
const N_MELS: usize = 40;
/// Share of spectral magnitude below the roll-off frequency (librosa's default).
const ROLL_PERCENT: f32 = 0.85;
/// Most threads one analysis splits its frames over.
const MAX_THREADS: usize = 8;
/// Fewest frames worth a thread of their own (a thread costs tens of microseconds).
const MIN_FRAMES_PER_THREAD: usize = 200;
const YIN: YinConfig = YinConfig {
    sample_rate: SAMPLE_RATE,
    frame_length: 1024,
    hop: HOP,
    fmin: 60.0,
    fmax: 400.0,
    trough_threshold: 0.1,
    voicing_threshold: 0.3,
};

/// Mean and standard deviation of a per-frame quantity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// Arithmetic mean over frames.
    pub mean: f32,
    /// Population standard deviation over frames.
    pub std: f32,
}

/// Fundamental-frequency statistics over the voiced frames.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PitchStats {
    /// Median f0 in Hz; 0 when no frame is voiced.
    pub median_hz: f32,
    /// Mean f0 in Hz; 0 when no frame is voiced.
    pub mean_hz: f32,
    /// Standard deviation of f0 in Hz.
    pub std_hz: f32,
    /// Share of analysed frames that were voiced.
    pub voiced_fraction: f32,
}

/// The classic, interpretable description of a voice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// Per-coefficient mean of the MFCCs.
    pub mfcc_mean: [f32; N_MFCC],
    /// Per-coefficient standard deviation of the MFCCs.
    pub mfcc_std: [f32; N_MFCC],
    /// Fundamental frequency.
    pub f0: PitchStats,
    /// Spectral centroid in Hz.
    pub centroid_hz: MeanStd,
    /// 85 % spectral roll-off in Hz.
    pub rolloff_hz: MeanStd,
}

/// Per-frame classic features, before summarising.
pub struct FrameFeatures {
    /// MFCC vector of each frame.
    pub mfcc: Vec<[f32; N_MFCC]>,
    /// Spectral centroid of each frame, Hz.
    pub centroid_hz: Vec<f32>,
    /// Spectral roll-off of each frame, Hz.
    pub rolloff_hz: Vec<f32>,
    /// YIN f0 of each frame, Hz (librosa's value, also for unvoiced frames).
    pub f0_hz: Vec<f32>,
    /// Whether each frame is voiced (periodic enough to trust its f0).
    pub voiced: Vec<bool>,
}

/// Computes the classic features, planning the transforms once.
///
/// The frames of one signal are split over the machine's cores: every frame is
/// computed alone, so the split changes nothing in the result.
pub struct SignatureAnalyzer {
    stft: Stft,
    mel: MelBank,
    cepstrum: Cepstrum<N_MFCC>,
    freqs: Vec<f32>,
    yin: Yin,
    threads: NonZeroUsize,
}

impl Default for SignatureAnalyzer {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Self::with_threads(NonZeroUsize::new(cores.min(MAX_THREADS)).unwrap_or(NonZeroUsize::MIN))
    }
}

impl SignatureAnalyzer {
    /// An analyzer that splits a signal's frames over at most `threads` threads.
    pub fn with_threads(threads: NonZeroUsize) -> Self {
        Self {
            stft: Stft::new(N_FFT, HOP),
            mel: MelBank::slaney(SAMPLE_RATE, N_FFT, N_MELS),
            cepstrum: Cepstrum::new(N_MELS),
            freqs: bin_frequencies(SAMPLE_RATE, N_FFT),
            yin: Yin::new(YIN),
            threads,
        }
    }

    /// Per-frame features of a 16 kHz signal.
    pub fn frames(&self, signal: &[f32]) -> FrameFeatures {
        // Both analyses are centred with the same hop, so their frames pair up.
        let n = self.stft.frame_count(signal.len());
        debug_assert_eq!(n, self.yin.frame_count(signal.len()));
        let mut log_mel = vec![0.0; n * N_MELS];
        let mut centroid_hz = vec![0.0; n];
        let mut rolloff_hz = vec![0.0; n];
        let mut pitch = vec![PitchFrame::default(); n];
        let threads = (n / MIN_FRAMES_PER_THREAD).clamp(1, self.threads.get());
        let per_thread = n.div_ceil(threads);
        std::thread::scope(|scope| {
            let parts = log_mel
                .chunks_mut(per_thread * N_MELS)
                .zip(centroid_hz.chunks_mut(per_thread))
                .zip(rolloff_hz.chunks_mut(per_thread))
                .zip(pitch.chunks_mut(per_thread))
                .enumerate();
            for (part, (((log_mel, centroid), rolloff), pitch)) in parts {
                let first = part * per_thread;
                let mut work = move || {
                    self.spectral_frames(signal, first, log_mel, centroid, rolloff);
                    self.yin
                        .track_frames(signal, first..first + pitch.len(), pitch);
                };
                if first + per_thread >= n {
                    work();
                } else {
                    scope.spawn(work);
                }
            }
        });
        FrameFeatures {
            mfcc: self.cepstrum.frames(&log_mel),
            centroid_hz,
            rolloff_hz,
            f0_hz: pitch.iter().map(|p| p.f0).collect(),
            voiced: pitch.iter().map(|p| p.voiced).collect(),
        }
    }

    /// The summarised signature of a 16 kHz signal.
    pub fn signature(&self, signal: &[f32]) -> Signature {
        let f = self.frames(signal);
        let (mut mfcc_mean, mut mfcc_std) = ([0.0; N_MFCC], [0.0; N_MFCC]);
        for k in 0..N_MFCC {
            let s = mean_std(f.mfcc.iter().map(|c| c[k]));
            (mfcc_mean[k], mfcc_std[k]) = (s.mean, s.std);
        }
        let pitch: Vec<PitchFrame> = f
            .f0_hz
            .iter()
            .zip(&f.voiced)
            .map(|(&f0, &voiced)| PitchFrame { f0, voiced })
            .collect();
        Signature {
            mfcc_mean,
            mfcc_std,
            f0: pitch_stats(&pitch),
            centroid_hz: mean_std(f.centroid_hz.iter().copied()),
            rolloff_hz: mean_std(f.rolloff_hz.iter().copied()),
        }
    }

    /// Log-mel bands, centroid and roll-off of the frames from `first` on, one
    /// spectrum at a time.
    fn spectral_frames(
        &self,
        signal: &[f32],
        first: usize,
        log_mel: &mut [f32],
        centroid: &mut [f32],
        rolloff: &mut [f32],
    ) {
        let bins = self.stft.bins();
        let mut scratch = self.stft.scratch();
        let mut powers = vec![0.0; 2 * bins];
        let mut magnitude = vec![0.0; bins];
        let pairs = log_mel
            .chunks_mut(2 * N_MELS)
            .zip(centroid.chunks_mut(2))
            .zip(rolloff.chunks_mut(2));
        let mut index = first;
        for ((log_mel, centroid), rolloff) in pairs {
            let powers = &mut powers[..centroid.len() * bins];
            self.stft.frame_powers(signal, index, &mut scratch, powers);
            index += centroid.len();
            let frames = powers
                .chunks_exact(bins)
                .zip(log_mel.chunks_exact_mut(N_MELS))
                .zip(centroid)
                .zip(rolloff);
            for (((power, log_mel), centroid), rolloff) in frames {
                log_mel_frame(&self.mel, power, log_mel);
                for (m, p) in magnitude.iter_mut().zip(power) {
                    *m = p.sqrt();
                }
                let total = lane_sum(&magnitude);
                *centroid = if total > 0.0 {
                    lane_dot(&magnitude, &self.freqs) / total
                } else {
                    0.0
                };
                *rolloff = self.rolloff(&magnitude, total);
            }
        }
    }

    /// Lowest bin frequency whose cumulative magnitude reaches the roll percent.
    fn rolloff(&self, magnitude: &[f32], total: f32) -> f32 {
        const BLOCK: usize = 8;
        let target = ROLL_PERCENT * total;
        let mut cumulative = 0.0;
        // Whole blocks are skipped on their sum; only the block that crosses the
        // target is walked bin by bin.
        for (block, freqs) in magnitude.chunks(BLOCK).zip(self.freqs.chunks(BLOCK)) {
            let block_sum: f32 = block.iter().sum();
            if cumulative + block_sum >= target {
                let mut running = cumulative;
                for (m, f) in block.iter().zip(freqs) {
                    running += m;
                    if running >= target {
                        return *f;
                    }
                }
            }
            cumulative += block_sum;
        }
        self.freqs.last().copied().unwrap_or(0.0)
    }
}

fn pitch_stats(frames: &[PitchFrame]) -> PitchStats {
    let mut voiced: Vec<f32> = frames.iter().filter(|p| p.voiced).map(|p| p.f0).collect();
    let voiced_fraction = voiced.len() as f32 / frames.len().max(1) as f32;
    if voiced.is_empty() {
        return PitchStats {
            median_hz: 0.0,
            mean_hz: 0.0,
            std_hz: 0.0,
            voiced_fraction,
        };
    }
    voiced.sort_by(f32::total_cmp);
    let n = voiced.len();
    let median_hz = if n % 2 == 1 {
        voiced[n / 2]
    } else {
        (voiced[n / 2 - 1] + voiced[n / 2]) / 2.0
    };
    let s = mean_std(voiced.iter().copied());
    PitchStats {
        median_hz,
        mean_hz: s.mean,
        std_hz: s.std,
        voiced_fraction,
    }
}

fn mean_std(values: impl Iterator<Item = f32>) -> MeanStd {
    let (mut n, mut sum, mut sq) = (0usize, 0.0f64, 0.0f64);
    for v in values {
        n += 1;
        sum += v as f64;
        sq += (v as f64) * (v as f64);
    }
    if n == 0 {
        return MeanStd {
            mean: 0.0,
            std: 0.0,
        };
    }
    let mean = sum / n as f64;
    MeanStd {
        mean: mean as f32,
        std: (sq / n as f64 - mean * mean).max(0.0).sqrt() as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64) -> Vec<f32> {
        (0..16_000)
            .map(|i| (0.3 * (2.0 * std::f64::consts::PI * freq * i as f64 / 16_000.0).sin()) as f32)
            .collect()
    }

    #[test]
    fn a_pure_tone_has_its_frequency_as_centroid_roll_off_and_pitch() {
        let s = SignatureAnalyzer::default().signature(&tone(250.0));
        // Window leakage spreads magnitude upwards, so the centroid sits a
        // little above the tone; the Hann main lobe puts half a bin's weight
        // either side, so 85 % of the magnitude is reached one bin (31.25 Hz) up.
        assert!(
            (s.centroid_hz.mean / 250.0 - 1.0).abs() < 0.15,
            "{:?}",
            s.centroid_hz
        );
        assert!(
            (s.rolloff_hz.mean - 281.25).abs() < 10.0,
            "{:?}",
            s.rolloff_hz
        );
        assert!((s.f0.median_hz - 250.0).abs() < 1.0, "{:?}", s.f0);
        assert!(s.f0.voiced_fraction > 0.9);
    }

    #[test]
    fn splitting_the_frames_over_threads_changes_nothing() {
        let signal: Vec<f32> = tone(180.0).repeat(10);
        let one = SignatureAnalyzer::with_threads(NonZeroUsize::MIN).frames(&signal);
        let three = SignatureAnalyzer::with_threads(NonZeroUsize::new(3).unwrap()).frames(&signal);
        assert_eq!(one.mfcc, three.mfcc);
        assert_eq!(one.centroid_hz, three.centroid_hz);
        assert_eq!(one.rolloff_hz, three.rolloff_hz);
        assert_eq!(one.f0_hz, three.f0_hz);
        assert_eq!(one.voiced, three.voiced);
    }

    #[test]
    fn silence_gives_zero_statistics_without_nan() {
        let s = SignatureAnalyzer::default().signature(&[0.0; 8000]);
        assert_eq!(s.f0.voiced_fraction, 0.0);
        assert_eq!(s.centroid_hz.mean, 0.0);
        assert!(s.mfcc_mean.iter().chain(&s.mfcc_std).all(|v| v.is_finite()));
    }
}
