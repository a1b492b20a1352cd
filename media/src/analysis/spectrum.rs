//! Short-time magnitude spectra of the mono analysis signal, frame by frame as samples
//! arrive.

use std::sync::Arc;

use rustfft::{Fft, FftPlanner, num_complex::Complex};

/// Hann-windowed frames of `size` samples every `hop` samples, each handed on as its
/// magnitudes (bins 0 to `size / 2`), scaled so a full-scale sine peaks near 1.
pub(crate) struct Spectra {
    size: usize,
    hop: usize,
    window: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
    pending: Vec<f32>,
    buffer: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    magnitudes: Vec<f32>,
}

impl Spectra {
    /// Frames of `size` samples (a power of two), one every `hop`.
    pub(crate) fn new(size: usize, hop: usize) -> Self {
        let fft = FftPlanner::new().plan_fft_forward(size);
        // A Hann window sums to size / 2: dividing by a quarter of the size brings a sine's
        // peak to its amplitude.
        let norm = 4.0 / size as f32;
        let window = (0..size)
            .map(|i| {
                let phase = 2.0 * std::f32::consts::PI * i as f32 / size as f32;
                (0.5 - 0.5 * phase.cos()) * norm
            })
            .collect();
        Self {
            size,
            hop,
            window,
            scratch: vec![Complex::default(); fft.get_inplace_scratch_len()],
            fft,
            pending: Vec::with_capacity(size + hop),
            buffer: vec![Complex::default(); size],
            magnitudes: vec![0.0; size / 2 + 1],
        }
    }

    /// Frequency of bin `bin`, in Hz, at `rate` samples per second.
    pub(crate) fn bin_hz(&self, bin: usize, rate: f64) -> f64 {
        bin as f64 * rate / self.size as f64
    }

    /// Takes samples and calls `each` with the magnitudes of every frame they complete.
    pub(crate) fn push(&mut self, samples: &[f32], mut each: impl FnMut(&[f32])) {
        let mut rest = samples;
        while !rest.is_empty() {
            let wanted = self.size - self.pending.len();
            let (now, later) = rest.split_at(wanted.min(rest.len()));
            self.pending.extend_from_slice(now);
            rest = later;
            if self.pending.len() == self.size {
                self.transform();
                each(&self.magnitudes);
                self.pending.drain(..self.hop);
            }
        }
    }

    fn transform(&mut self) {
        for ((slot, sample), weight) in self.buffer.iter_mut().zip(&self.pending).zip(&self.window)
        {
            *slot = Complex::new(sample * weight, 0.0);
        }
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        for (magnitude, bin) in self.magnitudes.iter_mut().zip(&self.buffer) {
            *magnitude = bin.norm();
        }
    }
}

/// Offset (−½ to ½) of the vertex of the parabola through three equally spaced values:
/// where a peak sampled at whole bins or lags lies between them; 0 where they do not
/// bend down.
pub(crate) fn vertex(before: f64, at: f64, after: f64) -> f64 {
    let curvature = before - 2.0 * at + after;
    if curvature >= 0.0 {
        return 0.0;
    }
    (0.5 * (before - after) / curvature).clamp(-0.5, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_peaks_at_its_bin_with_its_amplitude() {
        let rate = 8_000.0;
        let mut spectra = Spectra::new(1_024, 256);
        let sine: Vec<f32> = (0..4_096)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1_000.0 * i as f32 / rate as f32).sin())
            .collect();
        let mut frames = 0;
        spectra.push(&sine, |magnitudes| {
            frames += 1;
            let (peak, level) =
                magnitudes
                    .iter()
                    .enumerate()
                    .fold(
                        (0, 0.0_f32),
                        |best, (i, &m)| if m > best.1 { (i, m) } else { best },
                    );
            assert_eq!(peak, 128);
            assert!((level - 0.5).abs() < 0.01, "{level}");
        });
        assert_eq!(frames, 13);
        assert_eq!(spectra.bin_hz(128, rate), 1_000.0);
    }

    #[test]
    fn the_vertex_of_a_symmetric_peak_is_its_middle() {
        assert_eq!(vertex(1.0, 2.0, 1.0), 0.0);
        assert!((vertex(1.0, 2.0, 2.0) - 0.5).abs() < 1e-12);
    }
}
