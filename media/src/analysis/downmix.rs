//! The mono, low-rate signal every analysis reads: channels averaged, then low-passed and
//! decimated by a whole factor to between 11 and 22 kHz. Tempo, key and fingerprint look at
//! nothing above 4 kHz, so a quarter of the samples does the same work at a quarter of
//! the cost. The rate is Chromaprint's own (11025 Hz) for 44.1 kHz sources, which then need
//! no further resampling.

/// Analyses want at least this rate; a source at twice it or faster is decimated.
const LEAST_RATE: u32 = 11_025;

/// Taps of the low-pass filter per unit of the decimation factor: a 65-tap filter for the
/// common 44.1 and 48 kHz sources, whose transition band then ends below the new Nyquist.
const TAPS_PER_FACTOR: usize = 16;

/// Averages channels and decimates, keeping what is left of a block for the next one.
pub(crate) struct Downmix {
    channels: usize,
    factor: usize,
    taps: Vec<f32>,
    /// Mono samples the next outputs are computed from; starts with a filter's length of
    /// silence so the first output has a full history.
    history: Vec<f32>,
    rate: f64,
}

impl Downmix {
    /// A downmix of `channels` interleaved channels at `rate` Hz.
    pub(crate) fn new(rate: u32, channels: usize) -> Self {
        let factor = (rate / LEAST_RATE).max(1) as usize;
        let taps = low_pass(factor);
        Self {
            channels: channels.max(1),
            factor,
            history: vec![0.0; taps.len() - 1],
            taps,
            rate: f64::from(rate) / factor as f64,
        }
    }

    /// Samples per second of the output.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// Takes interleaved samples and appends the mono, decimated output to `out`.
    pub(crate) fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) {
        let scale = 1.0 / self.channels as f32;
        self.history.extend(
            samples
                .chunks_exact(self.channels)
                .map(|frame| frame.iter().sum::<f32>() * scale),
        );
        if self.factor == 1 {
            out.extend(self.history.drain(self.taps.len() - 1..));
            return;
        }
        let mut start = 0;
        while start + self.taps.len() <= self.history.len() {
            let window = &self.history[start..start + self.taps.len()];
            out.push(window.iter().zip(&self.taps).map(|(s, t)| s * t).sum());
            start += self.factor;
        }
        self.history.drain(..start);
    }
}

/// A Hann-windowed sinc low-pass for decimating by `factor`, cut at 45 % of the new rate.
fn low_pass(factor: usize) -> Vec<f32> {
    if factor == 1 {
        return vec![1.0];
    }
    let len = TAPS_PER_FACTOR * factor + 1;
    let cutoff = 0.45 / factor as f64;
    let middle = (len / 2) as f64;
    let taps: Vec<f64> = (0..len)
        .map(|i| {
            let x = i as f64 - middle;
            let sinc = if x == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * std::f64::consts::PI * cutoff * x).sin() / (std::f64::consts::PI * x)
            };
            let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (len - 1) as f64).cos();
            sinc * hann
        })
        .collect();
    let gain: f64 = taps.iter().sum();
    taps.iter().map(|t| (t / gain) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f64, seconds: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .flat_map(|i| {
                let s = (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin() as f32;
                [s, s]
            })
            .collect()
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
    }

    #[test]
    fn low_tones_pass_and_tones_above_the_new_nyquist_are_removed() {
        let mut low = Vec::new();
        let mut down = Downmix::new(44_100, 2);
        assert_eq!(down.rate(), 11_025.0);
        for chunk in tone(44_100, 440.0, 1.0).chunks(1_000) {
            down.push(chunk, &mut low);
        }
        assert!((low.len() as i64 - 11_025).abs() < 20, "{}", low.len());
        assert!(
            (rms(&low[200..]) - 0.707).abs() < 0.02,
            "{}",
            rms(&low[200..])
        );
        let mut high = Vec::new();
        Downmix::new(44_100, 2).push(&tone(44_100, 9_000.0, 1.0), &mut high);
        assert!(rms(&high[200..]) < 0.01, "{}", rms(&high[200..]));
    }

    #[test]
    fn slow_sources_pass_unchanged_but_for_the_downmix() {
        let mut out = Vec::new();
        let mut down = Downmix::new(8_000, 2);
        down.push(&[0.5, 0.25, -1.0, 1.0], &mut out);
        assert_eq!(out, vec![0.375, 0.0]);
    }
}
