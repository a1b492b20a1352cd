//! Short-time spectra and the mel filterbank, laid out as librosa lays them.
//!
//! Frames are centred (the signal is padded with `n_fft / 2` zeros on both
//! sides, librosa's default since 0.10), windowed with a periodic Hann window
//! and transformed with a real FFT. The mel bank is the Slaney-style one
//! (`htk=False`, `norm="slaney"`), which both the MFCCs and the GE2E encoder
//! were specified with.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// A power spectrogram: `frames × bins` values, frame after frame.
pub(crate) struct Spectrogram {
    pub(crate) bins: usize,
    pub(crate) data: Vec<f32>,
}

impl Spectrogram {
    /// The spectrum of each frame in time order.
    pub(crate) fn frames(&self) -> impl ExactSizeIterator<Item = &[f32]> {
        self.data.chunks_exact(self.bins)
    }
}

/// A centred short-time Fourier transform of fixed size and hop.
pub(crate) struct Stft {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl Stft {
    /// A transform of `n_fft` points advancing `hop` samples per frame.
    pub(crate) fn new(n_fft: usize, hop: usize) -> Self {
        let window = (0..n_fft)
            .map(|i| {
                let phase = 2.0 * std::f64::consts::PI * i as f64 / n_fft as f64;
                (0.5 - 0.5 * phase.cos()) as f32
            })
            .collect();
        let fft = RealFftPlanner::new().plan_fft_forward(n_fft);
        Self {
            n_fft,
            hop,
            window,
            fft,
        }
    }

    /// Number of frequency bins per frame.
    pub(crate) fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Squared magnitude spectra of the centred frames of `signal`.
    pub(crate) fn power(&self, signal: &[f32]) -> Spectrogram {
        let pad = self.n_fft / 2;
        let frames = 1 + signal.len() / self.hop;
        let mut input = self.fft.make_input_vec();
        let mut output = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut data = Vec::with_capacity(frames * self.bins());
        for f in 0..frames {
            let start = (f * self.hop) as isize - pad as isize;
            for (i, slot) in input.iter_mut().enumerate() {
                let at = start + i as isize;
                let x = usize::try_from(at).ok().and_then(|a| signal.get(a));
                *slot = x.copied().unwrap_or(0.0) * self.window[i];
            }
            self.fft
                .process_with_scratch(&mut input, &mut output, &mut scratch)
                .expect("buffers come from the same plan");
            data.extend(output.iter().map(Complex::norm_sqr));
        }
        Spectrogram {
            bins: self.bins(),
            data,
        }
    }
}

/// Triangular mel filters stored sparsely: first bin and weights per band.
pub(crate) struct MelBank {
    filters: Vec<(usize, Vec<f32>)>,
}

impl MelBank {
    /// Slaney-scale, area-normalised filters from 0 Hz to Nyquist.
    pub(crate) fn slaney(sample_rate: u32, n_fft: usize, n_mels: usize) -> Self {
        let nyquist = sample_rate as f64 / 2.0;
        let bins = n_fft / 2 + 1;
        let fft_freqs: Vec<f64> = (0..bins)
            .map(|i| i as f64 * nyquist / (bins - 1) as f64)
            .collect();
        let top = hz_to_mel(nyquist);
        let edges: Vec<f64> = (0..n_mels + 2)
            .map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64))
            .collect();
        let filters = (0..n_mels)
            .map(|m| {
                let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
                let norm = 2.0 / (hi - lo);
                let weights: Vec<f32> = fft_freqs
                    .iter()
                    .map(|f| {
                        let rise = (f - lo) / (mid - lo);
                        let fall = (hi - f) / (hi - mid);
                        (rise.min(fall).max(0.0) * norm) as f32
                    })
                    .collect();
                let first = weights.iter().position(|w| *w > 0.0).unwrap_or(0);
                let last = weights.iter().rposition(|w| *w > 0.0).unwrap_or(0);
                (first, weights[first..=last.max(first)].to_vec())
            })
            .collect();
        Self { filters }
    }

    /// Band energies of one power spectrum frame.
    pub(crate) fn apply<'a>(&'a self, frame: &'a [f32]) -> impl Iterator<Item = f32> + 'a {
        self.filters.iter().map(move |(first, w)| {
            frame[*first..*first + w.len()]
                .iter()
                .zip(w)
                .map(|(p, w)| p * w)
                .sum()
        })
    }
}

/// Slaney's mel scale: linear below 1 kHz, logarithmic above.
fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    let log_step = 6.4f64.ln() / 27.0;
    if hz < 1000.0 {
        hz / F_SP
    } else {
        1000.0 / F_SP + (hz / 1000.0).ln() / log_step
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    let log_step = 6.4f64.ln() / 27.0;
    let min_log_mel = 1000.0 / F_SP;
    if mel < min_log_mel {
        mel * F_SP
    } else {
        1000.0 * (log_step * (mel - min_log_mel)).exp()
    }
}

/// Centre frequency in Hz of each FFT bin.
pub(crate) fn bin_frequencies(sample_rate: u32, n_fft: usize) -> Vec<f32> {
    (0..=n_fft / 2)
        .map(|i| (i as f64 * sample_rate as f64 / n_fft as f64) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_peaks_in_its_own_bin_with_the_expected_power() {
        let stft = Stft::new(512, 160);
        // 1000 Hz is exactly bin 32 at 16 kHz with 512 points.
        let tone: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 16_000.0).sin() as f32)
            .collect();
        let spec = stft.power(&tone);
        assert_eq!(spec.frames().len(), 1 + 16_000 / 160);
        let mid = spec.frames().nth(50).unwrap();
        let peak = (0..mid.len())
            .max_by(|a, b| mid[*a].total_cmp(&mid[*b]))
            .unwrap();
        assert_eq!(peak, 32);
        // A unit sine under a Hann window of N points peaks at (N/4)².
        assert!((mid[32] / (128.0f32 * 128.0) - 1.0).abs() < 1e-3);
    }

    #[test]
    fn mel_scale_round_trips_on_both_sides_of_its_knee() {
        for hz in [200.0, 999.0, 1000.0, 4321.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
    }

    #[test]
    fn every_mel_filter_has_unit_area_in_hertz() {
        let bank = MelBank::slaney(16_000, 2048, 40);
        let df = 8000.0 / 1024.0;
        for (_, w) in &bank.filters {
            // Slaney normalisation: 2/(hi−lo) gives each triangle area 1 in Hz.
            let area: f32 = w.iter().sum::<f32>() * df;
            assert!((area - 1.0).abs() < 0.05, "area {area}");
        }
    }
}
