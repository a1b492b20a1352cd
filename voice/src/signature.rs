//! The classic voice signature: MFCC statistics, pitch, spectral centroid and
//! roll-off, summarised over an utterance.
//!
//! Analysis settings are speech-sized rather than librosa's music defaults:
//! 512-point frames (32 ms) every 10 ms, 40 mel bands, 20 coefficients; YIN on
//! 64 ms frames between 60 and 400 Hz, which spans low male to high female
//! voices. `bench/voice-check.sh` runs librosa with the same settings.

use serde::{Deserialize, Serialize};

use crate::SAMPLE_RATE;
use crate::mfcc::mfcc;
use crate::pitch::{PitchFrame, Yin, YinConfig};
use crate::spectrum::{MelBank, Spectrogram, Stft, bin_frequencies};

/// Number of cepstral coefficients in the signature.
pub const N_MFCC: usize = 20;
const N_FFT: usize = 512;
const HOP: usize = 160;
const N_MELS: usize = 40;
/// Share of spectral magnitude below the roll-off frequency (librosa's default).
const ROLL_PERCENT: f32 = 0.85;
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
    pub mfcc: Vec<Vec<f32>>,
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
pub struct SignatureAnalyzer {
    stft: Stft,
    mel: MelBank,
    freqs: Vec<f32>,
    yin: Yin,
}

impl Default for SignatureAnalyzer {
    fn default() -> Self {
        Self {
            stft: Stft::new(N_FFT, HOP),
            mel: MelBank::slaney(SAMPLE_RATE, N_FFT, N_MELS),
            freqs: bin_frequencies(SAMPLE_RATE, N_FFT),
            yin: Yin::new(YIN),
        }
    }
}

impl SignatureAnalyzer {
    /// Per-frame features of a 16 kHz signal.
    pub fn frames(&self, signal: &[f32]) -> FrameFeatures {
        let power = self.stft.power(signal);
        let (centroid_hz, rolloff_hz) = self.centroid_and_rolloff(&power);
        let pitch = self.yin.track(signal);
        FrameFeatures {
            mfcc: mfcc(&power, &self.mel, N_MFCC),
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

    /// Centroid and roll-off of the magnitude spectrum, frame by frame.
    fn centroid_and_rolloff(&self, power: &Spectrogram) -> (Vec<f32>, Vec<f32>) {
        power
            .frames()
            .map(|frame| {
                let mag: Vec<f32> = frame.iter().map(|p| p.sqrt()).collect();
                let total: f32 = mag.iter().sum();
                let centroid = if total > 0.0 {
                    mag.iter().zip(&self.freqs).map(|(m, f)| m * f).sum::<f32>() / total
                } else {
                    0.0
                };
                (centroid, self.rolloff(&mag, total))
            })
            .unzip()
    }

    /// Lowest bin frequency whose cumulative magnitude reaches the roll percent.
    fn rolloff(&self, mag: &[f32], total: f32) -> f32 {
        let target = ROLL_PERCENT * total;
        let mut cumulative = 0.0;
        for (m, f) in mag.iter().zip(&self.freqs) {
            cumulative += m;
            if cumulative >= target {
                return *f;
            }
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
    fn silence_gives_zero_statistics_without_nan() {
        let s = SignatureAnalyzer::default().signature(&[0.0; 8000]);
        assert_eq!(s.f0.voiced_fraction, 0.0);
        assert_eq!(s.centroid_hz.mean, 0.0);
        assert!(s.mfcc_mean.iter().chain(&s.mfcc_std).all(|v| v.is_finite()));
    }
}
