//! What a sample's recording conditions look like: the measures the score's
//! calibration weighs the evidence by.

use serde::{Deserialize, Serialize};

/// Quality measures of one gated sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Seconds of speech found by the VAD.
    pub speech_seconds: f32,
    /// Estimated signal-to-noise ratio, dB.
    pub snr_db: f32,
    /// Whether the speech is telephone-band.
    pub narrow_band: bool,
    /// Steepest fall of the voice's energy, dB/s: thousands in a dry room,
    /// a few hundred in a reverberant one.
    pub decay_db_per_s: f32,
    /// Spectral flatness of the noise floor: about 0.5 for hiss, low when the
    /// floor is other voices (babble) or a hum.
    pub floor_flatness: f32,
}

/// Number of values [`Quality::features`] gives.
pub(crate) const QUALITY_FEATURES: usize = 5;

impl Quality {
    /// The measures as the calibration reads them, each on a scale of about one
    /// and clamped to the range the calibration data covers.
    pub(crate) fn features(&self) -> [f64; QUALITY_FEATURES] {
        [
            f64::from(self.speech_seconds.clamp(0.5, 12.0)).ln(),
            f64::from(self.snr_db.clamp(0.0, 40.0)) / 10.0,
            f64::from(u8::from(self.narrow_band)),
            f64::from(self.decay_db_per_s.clamp(50.0, 3_000.0)).ln() - 6.0,
            f64::from(self.floor_flatness.clamp(0.0, 1.0)) * 4.0,
        ]
    }
}
