//! Fundamental frequency by YIN (de Cheveigné & Kawahara, 2002), following
//! librosa 0.11's `yin` step for step so the two can be compared frame by frame.
//!
//! Per centred frame: autocorrelation via FFT, the difference function
//! `d(τ) = 2·(r(0) − r(τ)) − Σ_{j<τ} x_j²`, its cumulative-mean normalisation,
//! the first local minimum below the trough threshold (else the global
//! minimum) refined by parabolic interpolation. librosa gives an f0 for every
//! frame; here a frame also counts as voiced only when the normalised
//! difference at the chosen period is below `voicing_threshold`. That cannot
//! be the trough threshold itself: librosa 0.11's difference function keeps the
//! energy of the last τ samples of the frame, which lifts its minimum for long
//! periods (about 0.15 at 85 Hz on a clean harmonic tone), so low voices would
//! read as unvoiced; white noise and fricatives stay near 1.

use std::ops::Range;

use rustfft::num_complex::Complex;

use crate::lanes::{cumulative_sum, lane_min};
use crate::spectrum::{PairedPower, centred_pair};

/// Settings of the YIN estimator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct YinConfig {
    pub(crate) sample_rate: u32,
    pub(crate) frame_length: usize,
    pub(crate) hop: usize,
    pub(crate) fmin: f32,
    pub(crate) fmax: f32,
    pub(crate) trough_threshold: f32,
    pub(crate) voicing_threshold: f32,
}

/// The pitch estimate of one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct PitchFrame {
    pub(crate) f0: f32,
    pub(crate) voiced: bool,
}

/// A YIN estimator with its FFT plans made once.
pub(crate) struct Yin {
    config: YinConfig,
    transform: PairedPower,
    min_period: usize,
    max_period: usize,
    /// `1 / τ` for `τ = 0..=max_period` (0 at 0, never used).
    inverse_tau: Vec<f32>,
}

impl Yin {
    /// Plans the transforms for `config`.
    pub(crate) fn new(config: YinConfig) -> Self {
        let min_period = (config.sample_rate as f32 / config.fmax).floor() as usize;
        let max_period = ((config.sample_rate as f32 / config.fmin).ceil() as usize)
            .min(config.frame_length - 1);
        // A circular correlation equals the linear one up to lag τ once the transform
        // holds frame_length + τ points; the smallest 2^a·3^b size that does is up to
        // a third cheaper than the usual doubling.
        let n = smooth_size_at_least(config.frame_length + max_period);
        let inverse_tau = (0..=max_period)
            .map(|tau| if tau == 0 { 0.0 } else { 1.0 / tau as f32 })
            .collect();
        Self {
            config,
            transform: PairedPower::new(n),
            min_period,
            max_period,
            inverse_tau,
        }
    }

    /// Number of centred frames of a signal of `len` samples.
    pub(crate) fn frame_count(&self, len: usize) -> usize {
        1 + len / self.config.hop
    }

    /// Pitch of the centred frames `frames` of `signal`, into `out` (one per frame).
    pub(crate) fn track_frames(
        &self,
        signal: &[f32],
        frames: Range<usize>,
        out: &mut [PitchFrame],
    ) {
        let mut buf = YinScratch::new(self);
        for (first, out) in frames.step_by(2).zip(out.chunks_mut(2)) {
            self.pair_pitch(signal, first, &mut buf, out);
        }
    }

    /// Pitch of one or two frames (`out.len()`) from frame `first` on: their
    /// autocorrelations come from one forward and one inverse transform.
    fn pair_pitch(
        &self,
        signal: &[f32],
        first: usize,
        buf: &mut YinScratch,
        out: &mut [PitchFrame],
    ) {
        let frames = first..first + out.len();
        centred_pair(
            signal,
            frames,
            self.config.hop,
            &mut buf.first,
            &mut buf.second,
        );
        let (frames, padding) = buf.frames.split_at_mut(self.config.frame_length);
        for ((z, a), b) in frames.iter_mut().zip(&buf.first).zip(&buf.second) {
            *z = Complex::new(*a, *b);
        }
        padding.fill(Complex::default());
        self.transform
            .autocorrelations(&mut buf.frames, &mut buf.fft, &mut buf.correlation);

        let scale = 1.0 / self.transform.len() as f32;
        for (which, pitch) in out.iter_mut().enumerate() {
            let frame = if which == 0 { &buf.first } else { &buf.second };
            let lags = buf.correlation[..=self.max_period].iter();
            for (r, z) in buf.difference.acf.iter_mut().zip(lags) {
                *r = if which == 0 { z.re } else { z.im } * scale;
            }
            *pitch = self.frame_pitch(frame, &mut buf.difference);
        }
    }

    fn frame_pitch(&self, frame: &[f32], buf: &mut Difference) -> PitchFrame {
        self.normalized_difference(frame, buf);
        let d = &buf.normalized;
        let index =
            first_threshold_trough(d, self.config.trough_threshold).unwrap_or_else(|| argmin(d));
        let period = (self.min_period + index) as f32 + parabolic_shift(d, index);
        PitchFrame {
            f0: self.config.sample_rate as f32 / period,
            // Digital silence normalises to 0 everywhere.
            voiced: buf.acf[0] > 0.0 && d[index] < self.config.voicing_threshold,
        }
    }

    /// Fills `buf.normalized` with the cumulative-mean-normalised difference for periods
    /// `min..=max` of `frame`, whose autocorrelation is in `buf.acf`.
    fn normalized_difference(&self, frame: &[f32], buf: &mut Difference) {
        let max = self.max_period;
        // difference[τ] starts as the energy of the frame's first τ samples.
        buf.difference[0] = 0.0;
        for (e, x) in buf.difference[1..=max].iter_mut().zip(frame) {
            *e = x * x;
        }
        cumulative_sum(&mut buf.difference[1..=max]);
        let r0 = buf.acf[0];
        for (d, r) in buf.difference[1..=max].iter_mut().zip(&buf.acf[1..=max]) {
            *d = 2.0 * (r0 - r) - *d;
        }
        buf.running.copy_from_slice(&buf.difference);
        cumulative_sum(&mut buf.running[1..=max]);
        let periods = self.min_period..=max;
        for (((out, d), running), inverse_tau) in buf
            .normalized
            .iter_mut()
            .zip(&buf.difference[periods.clone()])
            .zip(&buf.running[periods.clone()])
            .zip(&self.inverse_tau[periods])
        {
            *out = d / (running * inverse_tau + f32::MIN_POSITIVE);
        }
    }
}

/// Buffers of one thread's pitch tracking, reused across frames.
struct YinScratch {
    first: Vec<f32>,
    second: Vec<f32>,
    frames: Vec<Complex<f32>>,
    correlation: Vec<Complex<f32>>,
    fft: Vec<Complex<f32>>,
    difference: Difference,
}

/// One frame's difference function and what it is made from.
struct Difference {
    acf: Vec<f32>,
    difference: Vec<f32>,
    running: Vec<f32>,
    normalized: Vec<f32>,
}

impl YinScratch {
    fn new(yin: &Yin) -> Self {
        let n = yin.transform.len();
        let lags = yin.max_period + 1;
        Self {
            first: vec![0.0; yin.config.frame_length],
            second: vec![0.0; yin.config.frame_length],
            frames: vec![Complex::default(); n],
            correlation: vec![Complex::default(); n],
            fft: yin.transform.scratch(),
            difference: Difference {
                acf: vec![0.0; lags],
                difference: vec![0.0; lags],
                running: vec![0.0; lags],
                normalized: vec![0.0; yin.max_period - yin.min_period + 1],
            },
        }
    }
}

/// The smallest `2^a·3^b` at least `min`: sizes the FFT runs fastest at.
fn smooth_size_at_least(min: usize) -> usize {
    let mut best = min.next_power_of_two();
    let mut threes = 1;
    while threes < best {
        let size = threes * (min.div_ceil(threes)).next_power_of_two();
        best = best.min(size);
        threes *= 3;
    }
    best
}

/// First local minimum below `threshold`, with librosa's edge rules.
fn first_threshold_trough(d: &[f32], threshold: f32) -> Option<usize> {
    let below = |from: usize| {
        d[from..]
            .iter()
            .position(|v| *v < threshold)
            .map(|i| from + i)
    };
    let n = d.len();
    let mut i = below(0)?;
    loop {
        let trough = match i {
            0 => n > 1 && d[0] < d[1],
            _ if i == n - 1 => d[i] < d[i - 1],
            _ => d[i] < d[i - 1] && d[i] <= d[i + 1],
        };
        if trough {
            return Some(i);
        }
        i = below(i + 1)?;
    }
}

/// Index of the first smallest value.
fn argmin(d: &[f32]) -> usize {
    let min = lane_min(d);
    d.iter().position(|v| *v == min).unwrap_or(0)
}

/// Offset of the parabola through `d[i−1..=i+1]`, 0 at the edges or if it
/// would move by more than one bin.
fn parabolic_shift(d: &[f32], i: usize) -> f32 {
    if i == 0 || i + 1 >= d.len() {
        return 0.0;
    }
    let a = d[i + 1] + d[i - 1] - 2.0 * d[i];
    let b = (d[i + 1] - d[i - 1]) / 2.0;
    if b.abs() >= a.abs() { 0.0 } else { -b / a }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> YinConfig {
        YinConfig {
            sample_rate: 16_000,
            frame_length: 1024,
            hop: 160,
            fmin: 60.0,
            fmax: 400.0,
            trough_threshold: 0.1,
            voicing_threshold: 0.3,
        }
    }

    fn track(yin: &Yin, signal: &[f32]) -> Vec<PitchFrame> {
        let mut out = vec![PitchFrame::default(); yin.frame_count(signal.len())];
        yin.track_frames(signal, 0..out.len(), &mut out);
        out
    }

    /// A harmonic tone with a missing fundamental's worth of overtones.
    fn voiced(f0: f64, seconds: f64) -> Vec<f32> {
        (0..(16_000.0 * seconds) as usize)
            .map(|i| {
                let t = i as f64 / 16_000.0;
                (1..=5)
                    .map(|h| (2.0 * std::f64::consts::PI * f0 * h as f64 * t).sin() / h as f64)
                    .sum::<f64>() as f32
                    * 0.2
            })
            .collect()
    }

    #[test]
    fn a_harmonic_tone_is_voiced_at_its_fundamental() {
        for f0 in [85.0, 123.4, 220.0, 350.0] {
            let frames = track(&Yin::new(config()), &voiced(f0, 0.5));
            let inner = &frames[10..frames.len() - 10];
            assert!(inner.iter().all(|p| p.voiced), "{f0} Hz not voiced");
            for p in inner {
                assert!(
                    (p.f0 as f64 / f0 - 1.0).abs() < 0.005,
                    "{f0} Hz read as {}",
                    p.f0
                );
            }
        }
    }

    #[test]
    fn transform_sizes_are_the_smallest_products_of_twos_and_threes() {
        assert_eq!(smooth_size_at_least(1291), 1296);
        assert_eq!(smooth_size_at_least(1024), 1024);
        assert_eq!(smooth_size_at_least(1025), 1152);
        assert_eq!(smooth_size_at_least(7), 8);
    }

    #[test]
    fn white_noise_is_not_voiced() {
        let mut state = 0x2545_f491u32;
        let noise: Vec<f32> = (0..16_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as f32 / u32::MAX as f32 - 0.5
            })
            .collect();
        let frames = track(&Yin::new(config()), &noise);
        let voiced = frames.iter().filter(|p| p.voiced).count();
        assert!(
            voiced * 20 < frames.len(),
            "{voiced} of {} noise frames voiced",
            frames.len()
        );
    }
}
