//! Mel-frequency cepstral coefficients, computed as librosa computes them.
//!
//! Mel band powers are turned into decibels (`10·log10(max(p, 1e-10))`), the
//! whole matrix is floored at 80 dB below its maximum (librosa's `top_db`), and
//! an orthonormal DCT-II keeps the first coefficients.

use crate::lanes::lane_dot;
use crate::spectrum::MelBank;

/// Power floor before the logarithm, librosa's `amin`.
const AMIN: f32 = 1e-10;
/// Dynamic range kept below the loudest mel band, librosa's `top_db`.
const TOP_DB: f32 = 80.0;

/// Mel band powers of one power spectrum in decibels, into `out` (one per band).
pub(crate) fn log_mel_frame(bank: &MelBank, power: &[f32], out: &mut [f32]) {
    for (out, p) in out.iter_mut().zip(bank.apply(power)) {
        *out = 10.0 * p.max(AMIN).log10();
    }
}

/// Turns log-mel frames into `K` cepstral coefficients each.
pub(crate) struct Cepstrum<const K: usize> {
    dct: DctBasis,
}

impl<const K: usize> Cepstrum<K> {
    /// A transform of frames of `bands` log-mel values.
    pub(crate) fn new(bands: usize) -> Self {
        Self {
            dct: DctBasis::new(bands, K),
        }
    }

    /// Coefficients of each frame of `log_mel` (frame after frame), with the whole
    /// matrix floored `TOP_DB` below its maximum first.
    pub(crate) fn frames(&self, log_mel: &[f32]) -> Vec<[f32; K]> {
        let peak = log_mel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let floor = peak - TOP_DB;
        let mut floored = vec![0.0; self.dct.n_in];
        log_mel
            .chunks_exact(self.dct.n_in)
            .map(|bands| {
                for (f, b) in floored.iter_mut().zip(bands) {
                    *f = b.max(floor);
                }
                let mut coefficients = [0.0; K];
                for (c, row) in coefficients
                    .iter_mut()
                    .zip(self.dct.rows.chunks_exact(self.dct.n_in))
                {
                    *c = lane_dot(row, &floored);
                }
                coefficients
            })
            .collect()
    }
}

/// Rows of the orthonormal DCT-II matrix, `n_out × n_in`, row after row.
struct DctBasis {
    n_in: usize,
    rows: Vec<f32>,
}

impl DctBasis {
    fn new(n_in: usize, n_out: usize) -> Self {
        let n = n_in as f64;
        let rows = (0..n_out)
            .flat_map(|k| {
                let scale = if k == 0 {
                    (1.0 / n).sqrt()
                } else {
                    (2.0 / n).sqrt()
                };
                (0..n_in).map(move |i| {
                    let angle = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n);
                    (scale * angle.cos()) as f32
                })
            })
            .collect();
        Self { n_in, rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dct_basis_is_orthonormal() {
        let dct = DctBasis::new(40, 40);
        let rows: Vec<&[f32]> = dct.rows.chunks_exact(40).collect();
        for (i, a) in rows.iter().enumerate() {
            for (j, b) in rows.iter().enumerate() {
                let dot: f32 = a.iter().zip(*b).map(|(x, y)| x * y).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "rows {i},{j}: {dot}");
            }
        }
    }

    #[test]
    fn a_flat_log_spectrum_has_energy_only_in_the_first_coefficient() {
        let c = Cepstrum::<20>::new(40).frames(&[-20.0; 40]);
        assert!((c[0][0] - (-20.0 * 40f32.sqrt())).abs() < 1e-3);
        assert!(c[0][1..].iter().all(|v| v.abs() < 1e-3));
    }

    #[test]
    fn bands_more_than_top_db_below_the_peak_are_floored() {
        let mut log_mel = vec![-20.0; 40];
        log_mel.extend([-200.0; 40]);
        let c = Cepstrum::<1>::new(40).frames(&log_mel);
        assert!((c[1][0] - (-100.0 * 40f32.sqrt())).abs() < 1e-3, "{c:?}");
    }
}
