//! From a cosine to a calibrated score: adaptive symmetric normalisation
//! (AS-norm) against a cohort of impostor voices, then a logistic-regression
//! calibration that turns the normalised score and the sample's quality
//! measures into a log-likelihood ratio (natural log).
//!
//! The cohort and the parameters ship with the crate (`data/`), written by
//! `cargo run --release -p mixdown-voice --example calibrate -- --write`, which
//! fits them and reports how they hold on speakers held out of the fit.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::model::{EMBEDDING_DIM, Embedding};
use crate::quality::{QUALITY_FEATURES, Quality};

/// Number of calibration weights: a bias, the normalised score, the score
/// times each quality measure, and each quality measure alone.
pub const CALIBRATION_WEIGHTS: usize = 2 + 2 * QUALITY_FEATURES;

/// The fitted parameters, as `data/calibration.json` holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationParams {
    /// Model whose embedding space the cohort and weights belong to.
    pub model: String,
    /// Cohort scores whose mean and deviation normalise a side.
    pub top_k: usize,
    /// Weights of [`features`], in order.
    pub weights: Vec<f64>,
    /// Default acceptance threshold on the calibrated score.
    pub threshold: f64,
    /// How the threshold and weights were obtained, for a reader of the file.
    pub provenance: String,
}

/// Why bundled or given calibration data is unusable.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// The parameters do not parse.
    #[error("malformed calibration parameters: {0}")]
    Params(#[from] serde_json::Error),
    /// The parameters have the wrong number of weights.
    #[error("calibration has {0} weights, expected {CALIBRATION_WEIGHTS}")]
    Weights(usize),
    /// The cohort bytes are not whole embeddings.
    #[error("cohort of {0} bytes is not a list of {EMBEDDING_DIM}-component embeddings")]
    Cohort(usize),
}

/// A cohort and the calibration fitted with it.
#[derive(Debug, Clone)]
pub struct Calibration {
    params: CalibrationParams,
    cohort: Vec<Embedding>,
}

/// Mean and standard deviation of a side's closest cohort scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CohortStats {
    /// Mean of the top-k cohort scores.
    pub mean: f64,
    /// Their standard deviation (at least 1e-3).
    pub std: f64,
}

impl CohortStats {
    /// Statistics of the `top_k` highest of `scores` (reordered in place).
    pub fn of_top(scores: &mut [f32], top_k: usize) -> Self {
        scores.sort_by(|a, b| b.total_cmp(a));
        let top = &scores[..top_k.min(scores.len())];
        if top.is_empty() {
            return Self {
                mean: 0.0,
                std: 1.0,
            };
        }
        let n = top.len() as f64;
        let mean = top.iter().map(|s| f64::from(*s)).sum::<f64>() / n;
        let var = top
            .iter()
            .map(|s| (f64::from(*s) - mean).powi(2))
            .sum::<f64>()
            / n;
        Self {
            mean,
            std: var.sqrt().max(1e-3),
        }
    }
}

/// AS-norm: the raw score standardised against each side's cohort, averaged.
pub fn as_norm(raw: f32, enrolled: CohortStats, test: CohortStats) -> f64 {
    let raw = f64::from(raw);
    0.5 * ((raw - enrolled.mean) / enrolled.std + (raw - test.mean) / test.std)
}

/// The calibration's inputs for a normalised score and the test sample's quality.
pub fn features(normalised: f64, quality: &Quality) -> [f64; CALIBRATION_WEIGHTS] {
    let q = quality.features();
    let mut f = [0.0; CALIBRATION_WEIGHTS];
    f[0] = 1.0;
    f[1] = normalised;
    for (i, v) in q.iter().enumerate() {
        f[2 + i] = normalised * v;
        f[2 + QUALITY_FEATURES + i] = *v;
    }
    f
}

impl Calibration {
    /// A calibration from its parts; the weights must number [`CALIBRATION_WEIGHTS`].
    pub fn new(
        params: CalibrationParams,
        cohort: Vec<Embedding>,
    ) -> Result<Self, CalibrationError> {
        if params.weights.len() != CALIBRATION_WEIGHTS {
            return Err(CalibrationError::Weights(params.weights.len()));
        }
        Ok(Self { params, cohort })
    }

    /// Reads the JSON parameters and the cohort's bytes ([`Calibration::cohort_bytes`]).
    pub fn from_parts(params_json: &str, cohort: &[u8]) -> Result<Self, CalibrationError> {
        let params: CalibrationParams = serde_json::from_str(params_json)?;
        let width = EMBEDDING_DIM * 2;
        if !cohort.len().is_multiple_of(width) {
            return Err(CalibrationError::Cohort(cohort.len()));
        }
        let cohort = cohort
            .chunks(width)
            .map(|c| {
                let v = c
                    .chunks(2)
                    .map(|b| f32::from(u16::from_le_bytes([b[0], b[1]])) / f32::from(u16::MAX))
                    .collect();
                Embedding::from_raw(v).ok_or(CalibrationError::Cohort(cohort.len()))
            })
            .collect::<Result<_, _>>()?;
        Self::new(params, cohort)
    }

    /// The calibration that ships with the crate, fitted for [`crate::MODEL_VERSION`].
    pub fn bundled() -> &'static Calibration {
        static BUNDLED: OnceLock<Calibration> = OnceLock::new();
        BUNDLED.get_or_init(|| {
            Self::from_parts(
                include_str!("../data/calibration.json"),
                include_bytes!("../data/cohort.bin"),
            )
            .expect("the bundled calibration is valid")
        })
    }

    /// The cohort as stored: each component as a little-endian u16 fraction of
    /// one (the model's ReLU outputs are never negative).
    pub fn cohort_bytes(cohort: &[Embedding]) -> Vec<u8> {
        cohort
            .iter()
            .flat_map(|e| e.as_slice().iter())
            .flat_map(|v| ((v.clamp(0.0, 1.0) * f32::from(u16::MAX)).round() as u16).to_le_bytes())
            .collect()
    }

    /// The parameters.
    pub fn params(&self) -> &CalibrationParams {
        &self.params
    }

    /// The default acceptance threshold on the calibrated score.
    pub fn threshold(&self) -> f64 {
        self.params.threshold
    }

    /// Statistics of `e` against the cohort.
    pub fn cohort_stats(&self, e: &Embedding) -> CohortStats {
        let mut scores: Vec<f32> = self.cohort.iter().map(|c| c.cosine(e)).collect();
        CohortStats::of_top(&mut scores, self.params.top_k)
    }

    /// The log-likelihood ratio of a normalised score given the test sample's quality.
    pub fn llr(&self, normalised: f64, quality: &Quality) -> f64 {
        features(normalised, quality)
            .iter()
            .zip(&self.params.weights)
            .map(|(f, w)| f * w)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cohort_survives_its_byte_form() {
        let e = Embedding::from_raw((0..EMBEDDING_DIM).map(|i| (i % 7) as f32).collect()).unwrap();
        let params = CalibrationParams {
            model: "m".into(),
            top_k: 1,
            weights: vec![0.0; CALIBRATION_WEIGHTS],
            threshold: 0.0,
            provenance: String::new(),
        };
        let json = serde_json::to_string(&params).unwrap();
        let back =
            Calibration::from_parts(&json, &Calibration::cohort_bytes(std::slice::from_ref(&e)))
                .unwrap();
        assert!(back.cohort_stats(&e).mean > 0.99999);
    }

    #[test]
    fn as_norm_centres_each_side_on_its_cohort() {
        let side = CohortStats {
            mean: 0.5,
            std: 0.1,
        };
        assert_eq!(as_norm(0.5, side, side), 0.0);
        assert!(
            (as_norm(
                0.7,
                side,
                CohortStats {
                    mean: 0.6,
                    std: 0.05
                }
            ) - 2.0)
                .abs()
                < 1e-6
        );
    }

    #[test]
    fn the_bundled_calibration_weighs_a_short_sample_as_less_evidence() {
        let c = Calibration::bundled();
        let quality = |speech_seconds| Quality {
            speech_seconds,
            snr_db: 30.0,
            narrow_band: false,
            decay_db_per_s: 400.0,
            floor_flatness: 0.1,
        };
        let slope = |q: &Quality| c.llr(4.0, q) - c.llr(0.0, q);
        assert!(slope(&quality(1.0)) < slope(&quality(3.0)));
        assert!(slope(&quality(3.0)) < slope(&quality(8.0)));
    }

    #[test]
    fn the_bundled_calibration_matches_the_model() {
        let c = Calibration::bundled();
        assert_eq!(c.params().model, crate::MODEL_VERSION);
        assert!(c.cohort.len() >= 100, "{}", c.cohort.len());
    }
}
