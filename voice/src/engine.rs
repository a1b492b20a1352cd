//! Enrollment and verification: gates, embedding, scoring.

use crate::augment::Condition;
use crate::calibration::{Calibration, as_norm};
use crate::gates::{GateConfig, GateError, SpeechSample};
use crate::model::{Embedding, Encoder, MODEL_VERSION};
use crate::quality::Quality;
use crate::signature::SignatureAnalyzer;
use crate::voiceprint::{Centroid, Voiceprint};

/// Default number of enrollment samples.
pub const DEFAULT_ENROLLMENT_SAMPLES: usize = 3;

/// Settings of the engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineConfig {
    /// Quality gates applied to every sample.
    pub gates: GateConfig,
    /// Calibrated score at or above which a verification is accepted; by
    /// default the bundled calibration's ([`Calibration::threshold`]).
    pub threshold: f32,
    /// Least number of samples an enrollment needs.
    pub enrollment_samples: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            gates: GateConfig::default(),
            threshold: Calibration::bundled().threshold() as f32,
            enrollment_samples: DEFAULT_ENROLLMENT_SAMPLES,
        }
    }
}

/// Mono PCM as decoded from an upload.
#[derive(Debug, Clone, Copy)]
pub struct Audio<'a> {
    /// Samples in [−1, 1].
    pub samples: &'a [f32],
    /// Sample rate, Hz.
    pub sample_rate: u32,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verification {
    /// Calibrated score: the log-likelihood ratio (natural log) that the
    /// sample is the enrolled speaker's; 0 is undecided.
    pub score: f32,
    /// Threshold the score was held to ([`EngineConfig::threshold`]).
    pub threshold: f32,
    /// Whether `score >= threshold`.
    pub accepted: bool,
    /// Cosine similarity between the sample and the print's closest centroid.
    pub cosine: f32,
    /// The condition of that centroid.
    pub condition: Condition,
    /// The sample's quality measures, which the calibration weighed.
    pub quality: Quality,
}

/// A print's closest centroid to `test`, with its cosine: a sample is scored
/// against the enrollment brought into the conditions it was recorded in.
pub fn closest_centroid<'c>(centroids: &'c [Centroid], test: &Embedding) -> (&'c Centroid, f32) {
    centroids
        .iter()
        .map(|c| (c, c.embedding.cosine(test)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a print has at least its clean centroid")
}

/// Why an enrollment or verification failed; each has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VoiceError {
    /// A sample failed a quality gate.
    #[error("sample {index}: {source}")]
    Sample {
        /// Position of the sample in the request, from 0.
        index: usize,
        /// The gate that refused it.
        source: GateError,
    },
    /// Fewer samples than an enrollment needs.
    #[error("enrollment needs at least {min} samples, got {got}")]
    NotEnoughSamples {
        /// Samples given.
        got: usize,
        /// Samples needed.
        min: usize,
    },
    /// The print was made by another model and must be enrolled again.
    #[error("voiceprint made by {print_model}, engine runs {MODEL_VERSION}: re-enroll")]
    ReenrollRequired {
        /// Model version stored in the print.
        print_model: String,
    },
}

impl VoiceError {
    /// Stable machine-readable code; a gate failure gives the gate's code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Sample { source, .. } => source.code(),
            Self::NotEnoughSamples { .. } => "not_enough_samples",
            Self::ReenrollRequired { .. } => "reenroll_required",
        }
    }
}

/// The voice engine: a loaded encoder and its settings.
pub struct VoiceEngine {
    encoder: Encoder,
    analyzer: SignatureAnalyzer,
    calibration: &'static Calibration,
    config: EngineConfig,
}

impl VoiceEngine {
    /// An engine over a loaded encoder, scoring with the bundled calibration.
    pub fn new(encoder: Encoder, config: EngineConfig) -> Self {
        Self {
            encoder,
            analyzer: SignatureAnalyzer::default(),
            calibration: Calibration::bundled(),
            config,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Runs the quality gates on one recording.
    pub fn check(&self, audio: Audio<'_>) -> Result<SpeechSample, GateError> {
        SpeechSample::new(audio.samples, audio.sample_rate, &self.config.gates)
    }

    /// The speaker embedding of gated speech.
    pub fn embed(&self, sample: &SpeechSample) -> Result<Embedding, GateError> {
        self.encoder
            .embed(sample.samples())
            .ok_or(GateError::NotSpeech)
    }

    /// Embeddings of degraded copies of gated speech, one per condition but
    /// the clean one (copies the gates refuse are left out); `seed` varies the
    /// noise and the room from sample to sample.
    pub fn condition_embeddings(
        &self,
        sample: &SpeechSample,
        seed: u64,
    ) -> Vec<(Condition, Embedding)> {
        Condition::ALL
            .into_iter()
            .filter(|c| *c != Condition::Clean)
            .filter_map(|c| {
                let (y, rate) = c.apply(sample.samples(), seed);
                let copy = SpeechSample::new(&y, rate, &self.config.gates).ok()?;
                Some((c, self.embed(&copy).ok()?))
            })
            .collect()
    }

    /// Enrolls a speaker; the first failing sample is reported by its index.
    pub fn enroll(&self, recordings: &[Audio<'_>]) -> Result<Voiceprint, VoiceError> {
        let min = self.config.enrollment_samples;
        if recordings.len() < min {
            return Err(VoiceError::NotEnoughSamples {
                got: recordings.len(),
                min,
            });
        }
        let mut enrollment = self.enrollment();
        for audio in recordings {
            enrollment.add(*audio)?;
        }
        enrollment.finish()
    }

    /// An enrollment fed one recording at a time, so a caller can stop
    /// between samples (and hold only one decoded recording at once).
    pub fn enrollment(&self) -> Enrollment<'_> {
        Enrollment {
            engine: self,
            embeddings: Vec::new(),
            samples: 0,
            speech: Vec::new(),
            seconds: 0.0,
        }
    }

    /// Scores one recording against a print.
    pub fn verify(&self, print: &Voiceprint, audio: Audio<'_>) -> Result<Verification, VoiceError> {
        ensure_same_model(print)?;
        let failed = |source| VoiceError::Sample { index: 0, source };
        let sample = self.check(audio).map_err(failed)?;
        let embedding = self.embed(&sample).map_err(failed)?;
        let centroids = print.centroids();
        let (closest, cosine) = closest_centroid(&centroids, &embedding);
        let c = self.calibration;
        let normalised = as_norm(
            cosine,
            c.cohort_stats(&closest.embedding),
            c.cohort_stats(&embedding),
        );
        let quality = sample.quality();
        let score = c.llr(normalised, &quality) as f32;
        let threshold = self.config.threshold;
        Ok(Verification {
            score,
            threshold,
            accepted: score >= threshold,
            cosine,
            condition: closest.condition,
            quality,
        })
    }
}

fn ensure_same_model(print: &Voiceprint) -> Result<(), VoiceError> {
    if print.model() == MODEL_VERSION {
        Ok(())
    } else {
        Err(VoiceError::ReenrollRequired {
            print_model: print.model().to_string(),
        })
    }
}

/// An enrollment in progress: see [`VoiceEngine::enrollment`].
pub struct Enrollment<'e> {
    engine: &'e VoiceEngine,
    /// Every embedding so far with its condition, clean or degraded.
    embeddings: Vec<(Condition, Embedding)>,
    samples: usize,
    speech: Vec<f32>,
    seconds: f32,
}

impl Enrollment<'_> {
    /// Gates and embeds the next recording; a failure names its index.
    pub fn add(&mut self, audio: Audio<'_>) -> Result<(), VoiceError> {
        let index = self.samples;
        let failed = |source| VoiceError::Sample { index, source };
        let sample = self.engine.check(audio).map_err(failed)?;
        let clean = self.engine.embed(&sample).map_err(failed)?;
        self.embeddings.push((Condition::Clean, clean));
        self.embeddings
            .extend(self.engine.condition_embeddings(&sample, index as u64));
        self.samples += 1;
        self.seconds += sample.speech_seconds();
        self.speech.extend_from_slice(sample.samples());
        Ok(())
    }

    /// The voiceprint of the recordings added, if there are enough of them.
    pub fn finish(self) -> Result<Voiceprint, VoiceError> {
        let (got, min) = (self.samples, self.engine.config.enrollment_samples);
        if got < min {
            return Err(VoiceError::NotEnoughSamples { got, min });
        }
        let centroids = centroids(&self.embeddings);
        let signature = self.engine.analyzer.signature(&self.speech);
        Ok(Voiceprint::new(
            MODEL_VERSION,
            centroids,
            signature,
            got as u32,
            self.seconds,
        ))
    }
}

/// The mean embedding of each condition present, clean first.
pub fn centroids(embeddings: &[(Condition, Embedding)]) -> Vec<Centroid> {
    Condition::ALL
        .into_iter()
        .filter_map(|condition| {
            let of = embeddings.iter().filter(|(c, _)| *c == condition);
            let embedding = Embedding::mean(of.map(|(_, e)| e))?;
            Some(Centroid {
                condition,
                embedding,
            })
        })
        .collect()
}
