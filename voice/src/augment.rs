//! Degraded copies of a recording: noise, a room, a telephone line.
//!
//! Enrollment embeds such copies of each sample beside the clean one, so a
//! print holds a centroid for every condition a verification may arrive in
//! ([`Condition`]). The same generators make the degradations of the
//! calibration and of the tests, with other seeds and parameters.

use std::f32::consts::PI;

use serde::{Deserialize, Serialize};

use crate::SAMPLE_RATE;

/// A recording condition a print keeps a centroid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// As recorded.
    Clean,
    /// Pink noise at [`ENROLL_NOISE_SNR_DB`].
    Noisy,
    /// Through a synthetic room of RT60 [`ENROLL_RT60_S`].
    Reverberant,
    /// Through a telephone channel ([`telephone`]).
    Telephone,
}

impl Condition {
    /// Every condition, clean first.
    pub const ALL: [Condition; 4] = [
        Condition::Clean,
        Condition::Noisy,
        Condition::Reverberant,
        Condition::Telephone,
    ];

    /// The condition's name as results show it.
    pub fn name(self) -> &'static str {
        match self {
            Condition::Clean => "clean",
            Condition::Noisy => "noisy",
            Condition::Reverberant => "reverberant",
            Condition::Telephone => "telephone",
        }
    }

    /// The condition applied to a 16 kHz recording, as (samples, rate); `seed`
    /// picks the noise and the room's reflections.
    pub fn apply(self, x: &[f32], seed: u64) -> (Vec<f32>, u32) {
        match self {
            Condition::Clean => (x.to_vec(), SAMPLE_RATE),
            Condition::Noisy => (
                add_at_snr(x, &pink_noise(x.len(), seed), ENROLL_NOISE_SNR_DB),
                SAMPLE_RATE,
            ),
            Condition::Reverberant => (
                convolve(x, &room_impulse_response(ENROLL_RT60_S, 0.0, seed)),
                SAMPLE_RATE,
            ),
            Condition::Telephone => (telephone(x), 8_000),
        }
    }
}

/// SNR of the noisy enrollment copies, dB: between the 10 and 20 dB a
/// verification in a street or an office arrives at.
pub const ENROLL_NOISE_SNR_DB: f32 = 15.0;
/// Reverberation time of the enrollment room, s: a living room or office.
pub const ENROLL_RT60_S: f32 = 0.5;

/// Deterministic uniform noise on [−1, 1] (xorshift64).
pub fn uniform_noise(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).max(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}

/// Deterministic Gaussian noise of unit variance (Box–Muller over [`uniform_noise`]).
pub fn gaussian_noise(len: usize, seed: u64) -> Vec<f32> {
    let u = uniform_noise(len + 1, seed);
    (0..len)
        .map(|i| {
            let (a, b) = ((u[i] + 1.0) / 2.0, (u[i + 1] + 1.0) / 2.0);
            (-2.0 * a.max(1e-12).ln()).sqrt() * (2.0 * PI * b).cos()
        })
        .collect()
}

/// Pink (1/f) noise: white noise through Paul Kellet's economy filter.
pub fn pink_noise(len: usize, seed: u64) -> Vec<f32> {
    let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
    uniform_noise(len, seed)
        .into_iter()
        .map(|w| {
            b0 = 0.99765 * b0 + w * 0.099_046;
            b1 = 0.96300 * b1 + w * 0.296_516_4;
            b2 = 0.57000 * b2 + w * 1.052_691_3;
            b0 + b1 + b2 + w * 0.1848
        })
        .collect()
}

/// Root mean square of a signal.
pub fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt() as f32
}

/// `x` with `noise` (repeated or cut to its length) added at `snr_db` below
/// the signal's RMS.
pub fn add_at_snr(x: &[f32], noise: &[f32], snr_db: f32) -> Vec<f32> {
    let (signal, level) = (rms(x), rms(noise));
    if noise.is_empty() || level == 0.0 {
        return x.to_vec();
    }
    let scale = signal / 10f32.powf(snr_db / 20.0) / level;
    x.iter()
        .zip(noise.iter().cycle())
        .map(|(s, n)| s + n * scale)
        .collect()
}

/// A room impulse response at 16 kHz by the stochastic model (Polack, 1988):
/// a direct path, then Gaussian noise whose envelope decays by 60 dB over
/// `rt60_s`, starting 2.5 ms after the direct sound and weighted so the
/// reverberant energy stands `drr_db` below the direct path's (0 dB: a
/// microphone at about the room's critical distance). The tail is smoothed by
/// a one-pole low-pass as walls and air absorb high frequencies.
pub fn room_impulse_response(rt60_s: f32, drr_db: f32, seed: u64) -> Vec<f32> {
    let rate = SAMPLE_RATE as f32;
    let len = (rt60_s * rate) as usize;
    let onset = (0.0025 * rate) as usize;
    let decay = 3.0 * 10f32.ln() / (rt60_s * rate);
    let noise = gaussian_noise(len, seed);
    let mut tail = vec![0.0f32; len];
    let mut smooth = 0.0f32;
    for (i, t) in tail.iter_mut().enumerate().skip(onset) {
        smooth = 0.6 * smooth + 0.4 * noise[i];
        *t = smooth * (-decay * (i - onset) as f32).exp();
    }
    let energy: f32 = tail.iter().map(|t| t * t).sum();
    let weight = if energy > 0.0 {
        (10f32.powf(-drr_db / 10.0) / energy).sqrt()
    } else {
        0.0
    };
    let mut h: Vec<f32> = tail.iter().map(|t| t * weight).collect();
    h[0] = 1.0;
    h
}

/// `x` convolved with `h`, cut to the length of `x` and brought back to its RMS.
pub fn convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    let spectrum_len = (x.len() + h.len()).next_power_of_two();
    let mut planner = rustfft::FftPlanner::<f32>::new();
    let (forward, inverse) = (
        planner.plan_fft_forward(spectrum_len),
        planner.plan_fft_inverse(spectrum_len),
    );
    let complex = |v: &[f32]| {
        let mut c = vec![rustfft::num_complex::Complex::new(0.0f32, 0.0); spectrum_len];
        c.iter_mut().zip(v).for_each(|(c, x)| c.re = *x);
        c
    };
    let (mut a, mut b) = (complex(x), complex(h));
    forward.process(&mut a);
    forward.process(&mut b);
    a.iter_mut().zip(&b).for_each(|(a, b)| *a *= b);
    inverse.process(&mut a);
    let y: Vec<f32> = a[..x.len()]
        .iter()
        .map(|c| c.re / spectrum_len as f32)
        .collect();
    let gain = rms(x) / rms(&y).max(1e-12);
    y.into_iter().map(|v| v * gain).collect()
}

/// Taps of a Hamming-windowed sinc band-pass from `lo` to `hi` Hz at `rate`
/// (`lo` 0: a low-pass).
pub fn band_pass(lo: f32, hi: f32, rate: f32, len: usize) -> Vec<f32> {
    let m = (len - 1) as f32 / 2.0;
    let sinc = |f: f32, t: f32| {
        if t == 0.0 {
            2.0 * f
        } else {
            (2.0 * PI * f * t).sin() / (PI * t)
        }
    };
    (0..len)
        .map(|k| {
            let t = k as f32 - m;
            let hamming = 0.54 - 0.46 * (2.0 * PI * k as f32 / (len - 1) as f32).cos();
            (sinc(hi / rate, t) - sinc(lo / rate, t)) * hamming
        })
        .collect()
}

/// `x` through the FIR `taps` (centred), keeping every `step`-th output.
pub fn filter(x: &[f32], taps: &[f32], step: usize) -> Vec<f32> {
    let half = taps.len() / 2;
    (0..x.len().div_ceil(step))
        .map(|n| {
            let centre = n * step;
            taps.iter()
                .enumerate()
                .filter_map(|(k, h)| {
                    (centre + k)
                        .checked_sub(half)
                        .and_then(|i| x.get(i))
                        .map(|v| v * h)
                })
                .sum()
        })
        .collect()
}

/// A 16 kHz recording through a telephone line: 300–3400 Hz band-pass,
/// decimation to 8 kHz and G.711 μ-law (8 bits). The result is at 8 kHz.
pub fn telephone(x: &[f32]) -> Vec<f32> {
    let taps = band_pass(300.0, 3400.0, SAMPLE_RATE as f32, 127);
    // μ-law spends its steps on a voice near −20 dBFS, as a phone's gain control sets it.
    let gain = 0.1 / rms(x).max(1e-9);
    filter(x, &taps, 2)
        .into_iter()
        .map(|v| mu_law(v * gain) / gain)
        .collect()
}

/// Encodes to 8-bit μ-law (μ = 255) and back.
pub fn mu_law(x: f32) -> f32 {
    const MU: f32 = 255.0;
    let x = x.clamp(-1.0, 1.0);
    let y = x.signum() * (1.0 + MU * x.abs()).ln() / (1.0 + MU).ln();
    let q = (y * 127.0).round() / 127.0;
    q.signum() * ((1.0 + MU).powf(q.abs()) - 1.0) / MU
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_added_at_the_asked_snr() {
        let x: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        let y = add_at_snr(&x, &pink_noise(x.len(), 3), 10.0);
        let n: Vec<f32> = y.iter().zip(&x).map(|(y, x)| y - x).collect();
        let snr = 20.0 * (rms(&x) / rms(&n)).log10();
        assert!((snr - 10.0).abs() < 0.01, "{snr}");
    }

    #[test]
    fn a_room_response_decays_by_its_rt60() {
        let h = room_impulse_response(0.5, 0.0, 7);
        assert_eq!(h.len(), 8_000);
        let energy = |r: std::ops::Range<usize>| h[r].iter().map(|v| v * v).sum::<f32>();
        // 60 dB per 0.5 s is 12 dB per 0.1 s (1,600 samples).
        let drop = 10.0 * (energy(800..1_600) / energy(2_400..3_200)).log10();
        assert!((drop - 12.0).abs() < 2.0, "{drop}");
        let tail = energy(1..8_000);
        assert!(
            (tail - 1.0).abs() < 0.01,
            "direct to reverberant 0 dB: {tail}"
        );
    }

    #[test]
    fn the_telephone_line_keeps_the_voice_band_only() {
        let tone = |hz: f32| -> Vec<f32> {
            (0..16_000)
                .map(|i| 0.1 * (2.0 * PI * hz * i as f32 / 16_000.0).sin())
                .collect()
        };
        let kept = rms(&telephone(&tone(1_000.0))[400..7_600]);
        let cut = rms(&telephone(&tone(6_000.0))[400..7_600]);
        assert!((kept / 0.0707 - 1.0).abs() < 0.1, "1 kHz: {kept}");
        assert!(cut < 0.01 * kept, "6 kHz: {cut}");
    }
}
