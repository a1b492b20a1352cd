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

use std::sync::Arc;

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

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
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PitchFrame {
    pub(crate) f0: f32,
    pub(crate) voiced: bool,
}

/// A YIN estimator with its FFT plans made once.
pub(crate) struct Yin {
    config: YinConfig,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    min_period: usize,
    max_period: usize,
}

impl Yin {
    /// Plans the transforms for `config`.
    pub(crate) fn new(config: YinConfig) -> Self {
        // Twice the frame makes the circular correlation a linear one.
        let n = 2 * config.frame_length;
        let mut planner = RealFftPlanner::new();
        let min_period = (config.sample_rate as f32 / config.fmax).floor() as usize;
        let max_period = ((config.sample_rate as f32 / config.fmin).ceil() as usize)
            .min(config.frame_length - 1);
        Self {
            config,
            forward: planner.plan_fft_forward(n),
            inverse: planner.plan_fft_inverse(n),
            min_period,
            max_period,
        }
    }

    /// Pitch of every centred frame of `signal`.
    pub(crate) fn track(&self, signal: &[f32]) -> Vec<PitchFrame> {
        let (len, hop) = (self.config.frame_length, self.config.hop);
        let frames = 1 + signal.len() / hop;
        let mut buffers = Buffers::new(self);
        (0..frames)
            .map(|f| {
                let start = (f * hop) as isize - (len / 2) as isize;
                let frame: Vec<f32> = (0..len as isize)
                    .map(|i| {
                        usize::try_from(start + i)
                            .ok()
                            .and_then(|a| signal.get(a))
                            .copied()
                            .unwrap_or(0.0)
                    })
                    .collect();
                self.frame_pitch(&frame, &mut buffers)
            })
            .collect()
    }

    fn frame_pitch(&self, frame: &[f32], buf: &mut Buffers) -> PitchFrame {
        let (d, energy) = self.normalized_difference(frame, buf);
        let index =
            first_threshold_trough(&d, self.config.trough_threshold).unwrap_or_else(|| argmin(&d));
        let period = (self.min_period + index) as f32 + parabolic_shift(&d, index);
        PitchFrame {
            f0: self.config.sample_rate as f32 / period,
            voiced: energy > 0.0 && d[index] < self.config.voicing_threshold,
        }
    }

    /// Cumulative-mean-normalised difference for periods `min..=max`, and
    /// the frame's energy (digital silence normalises to 0 everywhere).
    fn normalized_difference(&self, frame: &[f32], buf: &mut Buffers) -> (Vec<f32>, f32) {
        let acf = buf.autocorrelation(self, frame);
        let mut energy_before = 0.0f32;
        let mut running = 0.0f32;
        let mut out = Vec::with_capacity(self.max_period - self.min_period + 1);
        for tau in 1..=self.max_period {
            energy_before += frame[tau - 1] * frame[tau - 1];
            let diff = 2.0 * (acf[0] - acf[tau]) - energy_before;
            running += diff;
            if tau >= self.min_period {
                out.push(diff / (running / tau as f32 + f32::MIN_POSITIVE));
            }
        }
        (out, acf[0])
    }
}

/// Scratch space reused across frames.
struct Buffers {
    time: Vec<f32>,
    freq: Vec<realfft::num_complex::Complex<f32>>,
}

impl Buffers {
    fn new(yin: &Yin) -> Self {
        Self {
            time: yin.forward.make_input_vec(),
            freq: yin.forward.make_output_vec(),
        }
    }

    /// Linear autocorrelation of `frame` for lags `0..=max_period`.
    fn autocorrelation(&mut self, yin: &Yin, frame: &[f32]) -> Vec<f32> {
        self.time.fill(0.0);
        self.time[..frame.len()].copy_from_slice(frame);
        yin.forward
            .process(&mut self.time, &mut self.freq)
            .expect("planned size");
        for c in self.freq.iter_mut() {
            *c = realfft::num_complex::Complex::new(c.norm_sqr(), 0.0);
        }
        yin.inverse
            .process(&mut self.freq, &mut self.time)
            .expect("planned size");
        let scale = 1.0 / self.time.len() as f32;
        self.time[..=yin.max_period]
            .iter()
            .map(|v| v * scale)
            .collect()
    }
}

/// First local minimum below `threshold`, with librosa's edge rules.
fn first_threshold_trough(d: &[f32], threshold: f32) -> Option<usize> {
    let n = d.len();
    (0..n).find(|&i| {
        let trough = match i {
            0 => n > 1 && d[0] < d[1],
            _ if i == n - 1 => d[i] < d[i - 1],
            _ => d[i] < d[i - 1] && d[i] <= d[i + 1],
        };
        trough && d[i] < threshold
    })
}

fn argmin(d: &[f32]) -> usize {
    (0..d.len()).fold(0, |best, i| if d[i] < d[best] { i } else { best })
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
            let frames = Yin::new(config()).track(&voiced(f0, 0.5));
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
        let frames = Yin::new(config()).track(&noise);
        let voiced = frames.iter().filter(|p| p.voiced).count();
        assert!(
            voiced * 20 < frames.len(),
            "{voiced} of {} noise frames voiced",
            frames.len()
        );
    }
}
