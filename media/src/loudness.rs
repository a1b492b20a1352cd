//! EBU R128 loudness (ITU-R BS.1770-4) measured as a [`BlockSink`] in a transcode's decode
//! pass: K-weighting, 400 ms blocks with 75 % overlap gated at −70 LUFS and −10 LU for the
//! integrated loudness, 3 s blocks gated at −20 LU with the 10th–95th percentile spread for
//! the loudness range, and the true peak by 4× oversampling.
//!
//! The measurement itself is the `ebur128` crate (a port of libebur128, the library behind
//! most R128 tools). Block energies are kept exactly rather than binned; that is 8 bytes per
//! 100 ms of audio (under 1 MiB for three hours).

use ebur128::{EbuR128, Mode};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::decode::PcmBlock;
use crate::format::AudioFormat;
use crate::transcode::{BlockSink, SinkError};

/// The ReplayGain 2.0 reference level, in LUFS.
pub const REPLAYGAIN_REFERENCE_LUFS: f64 = -18.0;

/// A format the meter cannot measure: a rate below 16 Hz or above 2.8 MHz, or more than
/// 64 channels.
#[derive(Debug, Error)]
#[error("cannot measure the loudness of {format:?}")]
pub struct UnmeasurableFormat {
    format: AudioFormat,
}

/// The loudness of a whole programme.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    /// Integrated loudness in LUFS; `None` when no block passes the gates (silence, or less
    /// than 400 ms of audio).
    pub integrated_lufs: Option<f64>,
    /// Loudness range in LU; 0 when too short or too steady to have one.
    pub loudness_range_lu: f64,
    /// Highest true peak of any channel in dBTP; `None` for digital silence.
    pub true_peak_dbtp: Option<f64>,
    /// Highest sample of any channel in dBFS; `None` for digital silence.
    pub sample_peak_dbfs: Option<f64>,
    /// ReplayGain 2.0 track gain: the reference level minus the integrated loudness.
    pub replaygain_track_gain_db: Option<f64>,
}

/// Measures loudness block by block.
pub struct LoudnessMeter {
    meter: EbuR128,
}

impl LoudnessMeter {
    /// A meter for PCM of `format`; channels map as BS.1770 expects (L, R, C, LFE
    /// unweighted, Ls, Rs).
    pub fn new(format: AudioFormat) -> Result<Self, UnmeasurableFormat> {
        let mode = Mode::I | Mode::LRA | Mode::SAMPLE_PEAK | Mode::TRUE_PEAK;
        EbuR128::new(
            u32::from(format.channels.get()),
            format.sample_rate.hz(),
            mode,
        )
        .map(|meter| Self { meter })
        .map_err(|_| UnmeasurableFormat { format })
    }

    /// Adds interleaved samples of the meter's format.
    pub fn add(&mut self, samples: &[f32]) -> Result<(), SinkError> {
        self.meter.add_frames_f32(samples).map_err(SinkError::new)
    }

    /// The measurement of everything added so far.
    pub fn loudness(&self) -> Loudness {
        let integrated_lufs = self.meter.loudness_global().ok().filter(|l| l.is_finite());
        let peak = |per_channel: fn(&EbuR128, u32) -> Result<f64, ebur128::Error>| {
            (0..self.meter.channels())
                .filter_map(|channel| per_channel(&self.meter, channel).ok())
                .fold(0.0_f64, f64::max)
        };
        Loudness {
            integrated_lufs,
            loudness_range_lu: self.meter.loudness_range().unwrap_or(0.0),
            true_peak_dbtp: decibels(peak(EbuR128::true_peak)),
            sample_peak_dbfs: decibels(peak(EbuR128::sample_peak)),
            replaygain_track_gain_db: integrated_lufs.map(|lufs| REPLAYGAIN_REFERENCE_LUFS - lufs),
        }
    }
}

/// A linear amplitude in dB relative to full scale; `None` for 0.
fn decibels(amplitude: f64) -> Option<f64> {
    (amplitude > 0.0).then(|| 20.0 * amplitude.log10())
}

impl BlockSink for LoudnessMeter {
    fn push(&mut self, block: &PcmBlock) -> Result<(), SinkError> {
        self.add(block.samples())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ChannelCount, SampleRate};

    fn meter(rate: u32, channels: u16) -> LoudnessMeter {
        LoudnessMeter::new(AudioFormat {
            sample_rate: SampleRate::new(rate).expect("rate"),
            channels: ChannelCount::new(channels).expect("channels"),
        })
        .expect("measurable")
    }

    #[test]
    fn silence_has_no_loudness_and_no_peak() {
        let mut silent = meter(8_000, 1);
        silent.add(&[0.0; 16_000]).expect("added");
        let loudness = silent.loudness();
        assert_eq!(loudness.integrated_lufs, None);
        assert_eq!(loudness.replaygain_track_gain_db, None);
        assert_eq!(loudness.true_peak_dbtp, None);
        assert_eq!(loudness.loudness_range_lu, 0.0);
    }

    #[test]
    fn a_rate_too_low_to_filter_is_refused() {
        let format = AudioFormat {
            sample_rate: SampleRate::new(8).expect("rate"),
            channels: ChannelCount::MONO,
        };
        assert!(LoudnessMeter::new(format).is_err());
    }

    #[test]
    fn the_sample_peak_is_the_largest_magnitude_in_decibels() {
        let mut peaky = meter(8_000, 2);
        peaky.add(&[0.0, 0.25, -0.5, 0.0]).expect("added");
        let peak = peaky.loudness().sample_peak_dbfs.expect("a peak");
        assert!((peak - 20.0 * 0.5_f64.log10()).abs() < 1e-9, "{peak}");
    }
}
