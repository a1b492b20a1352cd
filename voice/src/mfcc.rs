//! Mel-frequency cepstral coefficients, computed as librosa computes them.
//!
//! Mel band powers are turned into decibels (`10·log10(max(p, 1e-10))`), the
//! whole matrix is floored at 80 dB below its maximum (librosa's `top_db`), and
//! an orthonormal DCT-II keeps the first coefficients.

use crate::spectrum::{MelBank, Spectrogram};

/// Power floor before the logarithm, librosa's `amin`.
const AMIN: f32 = 1e-10;
/// Dynamic range kept below the loudest mel band, librosa's `top_db`.
const TOP_DB: f32 = 80.0;

/// Computes `n_mfcc` coefficients per frame of a power spectrogram.
pub(crate) fn mfcc(spec: &Spectrogram, bank: &MelBank, n_mfcc: usize) -> Vec<Vec<f32>> {
    let log_mel: Vec<Vec<f32>> = spec
        .frames()
        .map(|frame| {
            bank.apply(frame)
                .map(|p| 10.0 * p.max(AMIN).log10())
                .collect()
        })
        .collect();
    let peak = log_mel
        .iter()
        .flatten()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    let dct = DctBasis::new(log_mel.first().map_or(0, Vec::len), n_mfcc);
    log_mel
        .into_iter()
        .map(|bands| {
            let floored: Vec<f32> = bands.iter().map(|b| b.max(peak - TOP_DB)).collect();
            dct.apply(&floored)
        })
        .collect()
}

/// Rows of the orthonormal DCT-II matrix, `n_out × n_in`.
struct DctBasis {
    rows: Vec<Vec<f32>>,
}

impl DctBasis {
    fn new(n_in: usize, n_out: usize) -> Self {
        let n = n_in as f64;
        let rows = (0..n_out)
            .map(|k| {
                let scale = if k == 0 {
                    (1.0 / n).sqrt()
                } else {
                    (2.0 / n).sqrt()
                };
                (0..n_in)
                    .map(|i| {
                        let angle =
                            std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n);
                        (scale * angle.cos()) as f32
                    })
                    .collect()
            })
            .collect();
        Self { rows }
    }

    fn apply(&self, x: &[f32]) -> Vec<f32> {
        self.rows
            .iter()
            .map(|r| r.iter().zip(x).map(|(a, b)| a * b).sum())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dct_basis_is_orthonormal() {
        let dct = DctBasis::new(40, 40);
        for (i, a) in dct.rows.iter().enumerate() {
            for (j, b) in dct.rows.iter().enumerate() {
                let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "rows {i},{j}: {dot}");
            }
        }
    }

    #[test]
    fn a_flat_log_spectrum_has_energy_only_in_the_first_coefficient() {
        let dct = DctBasis::new(40, 20);
        let c = dct.apply(&[-20.0; 40]);
        assert!((c[0] - (-20.0 * 40f32.sqrt())).abs() < 1e-3);
        assert!(c[1..].iter().all(|v| v.abs() < 1e-3));
    }
}
