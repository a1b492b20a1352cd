//! Short-time spectra and the mel filterbank, laid out as librosa lays them.
//!
//! Frames are centred (the signal is padded with `n_fft / 2` zeros on both
//! sides, librosa's default since 0.10), windowed with a periodic Hann window
//! and transformed two at a time by one complex FFT ([`PairedPower`]). The mel
//! bank is the Slaney-style one (`htk=False`, `norm="slaney"`), which both the
//! MFCCs and the GE2E encoder were specified with.

use std::ops::Range;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use crate::lanes::lane_dot;

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

/// Power spectra of two real frames from one complex FFT: frame `a` goes in the real
/// parts, frame `b` in the imaginary ones, and the transform `Z` splits as
/// `A_k = (Z_k + conj Z_{n−k}) / 2`, `B_k = (Z_k − conj Z_{n−k}) / 2i`. This spares a
/// real-input FFT's extra passes over every frame.
pub(crate) struct PairedPower {
    forward: Arc<dyn Fft<f32>>,
    inverse: Arc<dyn Fft<f32>>,
}

impl PairedPower {
    /// Transforms of `n` points.
    pub(crate) fn new(n: usize) -> Self {
        let mut planner = FftPlanner::new();
        Self {
            forward: planner.plan_fft_forward(n),
            inverse: planner.plan_fft_inverse(n),
        }
    }

    /// Points per transform.
    pub(crate) fn len(&self) -> usize {
        self.forward.len()
    }

    /// Scratch space for [`Self::powers`] and [`Self::autocorrelations`].
    pub(crate) fn scratch(&self) -> Vec<Complex<f32>> {
        let len = self
            .forward
            .get_inplace_scratch_len()
            .max(self.inverse.get_inplace_scratch_len());
        vec![Complex::default(); len]
    }

    /// Transforms `frames` (`len()` points: `a` in the real parts, `b` in the imaginary)
    /// in place and writes `|A_k|²` into the real and `|B_k|²` into the imaginary part of
    /// `power[k]`, for the first `power.len()` bins.
    pub(crate) fn powers(
        &self,
        frames: &mut [Complex<f32>],
        scratch: &mut [Complex<f32>],
        power: &mut [Complex<f32>],
    ) {
        self.forward.process_with_scratch(frames, scratch);
        let z = &*frames;
        power[0] = Complex::new(z[0].re * z[0].re, z[0].im * z[0].im);
        for ((p, a), b) in power[1..].iter_mut().zip(&z[1..]).zip(z[1..].iter().rev()) {
            let (sum_re, sum_im) = (a.re + b.re, a.im - b.im);
            let (diff_re, diff_im) = (a.re - b.re, a.im + b.im);
            *p = Complex::new(
                (sum_re * sum_re + sum_im * sum_im) * 0.25,
                (diff_re * diff_re + diff_im * diff_im) * 0.25,
            );
        }
    }

    /// Circular autocorrelations of frames `a` and `b` (as for [`Self::powers`]), into
    /// the real and imaginary parts of `correlation`, unnormalised (`len()` times too
    /// large); `frames` is overwritten.
    pub(crate) fn autocorrelations(
        &self,
        frames: &mut [Complex<f32>],
        scratch: &mut [Complex<f32>],
        correlation: &mut [Complex<f32>],
    ) {
        let n = self.len();
        let half = n / 2 + 1;
        self.powers(frames, scratch, &mut correlation[..half]);
        // Power spectra of real frames are even: the upper half mirrors the lower.
        let (lower, upper) = correlation.split_at_mut(half);
        for (high, low) in upper
            .iter_mut()
            .zip(lower[1..].iter().rev().skip(1 - n % 2))
        {
            *high = *low;
        }
        self.inverse.process_with_scratch(correlation, scratch);
    }
}

/// A centred short-time Fourier transform of fixed size and hop.
pub(crate) struct Stft {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    transform: PairedPower,
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
        Self {
            n_fft,
            hop,
            window,
            transform: PairedPower::new(n_fft),
        }
    }

    /// Number of frequency bins per frame.
    pub(crate) fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of centred frames of a signal of `len` samples.
    pub(crate) fn frame_count(&self, len: usize) -> usize {
        1 + len / self.hop
    }

    /// Buffers for [`Stft::frame_powers`], made once per thread.
    pub(crate) fn scratch(&self) -> StftScratch {
        StftScratch {
            first: vec![0.0; self.n_fft],
            second: vec![0.0; self.n_fft],
            frames: vec![Complex::default(); self.n_fft],
            power: vec![Complex::default(); self.bins()],
            fft: self.transform.scratch(),
        }
    }

    /// Squared magnitude spectra of one or two centred frames of `signal` from frame
    /// `index` on, into `power` (`bins()` values per frame).
    pub(crate) fn frame_powers(
        &self,
        signal: &[f32],
        index: usize,
        scratch: &mut StftScratch,
        power: &mut [f32],
    ) {
        let bins = self.bins();
        let pair = power.len() == 2 * bins;
        debug_assert!(pair || power.len() == bins);
        let frames = index..index + 1 + usize::from(pair);
        let (first, second) = (&mut scratch.first, &mut scratch.second);
        centred_pair(signal, frames, self.hop, first, second);
        for (((z, a), b), w) in scratch
            .frames
            .iter_mut()
            .zip(&scratch.first)
            .zip(&scratch.second)
            .zip(&self.window)
        {
            *z = Complex::new(a * w, b * w);
        }
        self.transform
            .powers(&mut scratch.frames, &mut scratch.fft, &mut scratch.power);
        let (first, second) = power.split_at_mut(bins);
        for (a, p) in first.iter_mut().zip(&scratch.power) {
            *a = p.re;
        }
        for (b, p) in second.iter_mut().zip(&scratch.power) {
            *b = p.im;
        }
    }

    /// Squared magnitude spectra of the centred frames of `signal`.
    pub(crate) fn power(&self, signal: &[f32]) -> Spectrogram {
        let bins = self.bins();
        let mut data = vec![0.0; self.frame_count(signal.len()) * bins];
        let mut scratch = self.scratch();
        for (pair, power) in data.chunks_mut(2 * bins).enumerate() {
            self.frame_powers(signal, 2 * pair, &mut scratch, power);
        }
        Spectrogram { bins, data }
    }
}

/// Buffers of one thread's short-time transforms.
pub(crate) struct StftScratch {
    first: Vec<f32>,
    second: Vec<f32>,
    frames: Vec<Complex<f32>>,
    power: Vec<Complex<f32>>,
    fft: Vec<Complex<f32>>,
}

/// Loads the one or two centred frames `frames` (`hop` samples apart, each as long as
/// `first`) into `first` and `second`; `second` is zeros when there is one frame.
pub(crate) fn centred_pair(
    signal: &[f32],
    frames: Range<usize>,
    hop: usize,
    first: &mut [f32],
    second: &mut [f32],
) {
    let start = (frames.start * hop) as isize - (first.len() / 2) as isize;
    centred_frame(signal, start, first);
    if frames.len() == 2 {
        centred_frame(signal, start + hop as isize, second);
    } else {
        second.fill(0.0);
    }
}

/// Copies `frame.len()` samples of `signal` from `start` into `frame`, with zeros where
/// the frame runs past either end (librosa's constant padding).
fn centred_frame(signal: &[f32], start: isize, frame: &mut [f32]) {
    let end = start + frame.len() as isize;
    let from = start.clamp(0, signal.len() as isize) as usize;
    let to = end.clamp(0, signal.len() as isize) as usize;
    if from == 0 || to == signal.len() {
        frame.fill(0.0);
    }
    if from < to {
        let offset = (from as isize - start) as usize;
        frame[offset..offset + (to - from)].copy_from_slice(&signal[from..to]);
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
        self.filters
            .iter()
            .map(move |(first, w)| lane_dot(&frame[*first..*first + w.len()], w))
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
