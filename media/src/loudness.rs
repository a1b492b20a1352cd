//! EBU R128 loudness (ITU-R BS.1770-4) measured as a [`BlockSink`] in a transcode's decode
//! pass: K-weighting, 400 ms blocks with 75 % overlap gated at −70 LUFS and −10 LU for the
//! integrated loudness, 3 s blocks gated at −70 LUFS and −20 LU with the 10th–95th
//! percentile spread for the loudness range (EBU Tech 3342), and the true peak by 4×
//! oversampling.
//!
//! K-weighting, gating blocks, integrated loudness and peaks come from the `ebur128` crate
//! (a port of libebur128, the library behind most R128 tools). The loudness range is
//! computed here instead: libebur128 steps its 3 s blocks by 1 s, while Tech 3342 since 2016
//! asks for steps of at most 100 ms (as FFmpeg's `ebur128` filter takes them), which
//! matters on short or unsteady programmes. Block loudnesses are kept exactly rather than
//! binned: 16 bytes per 100 ms of audio, under 2 MiB for three hours.

use std::collections::VecDeque;

use ebur128::{EbuR128, Mode};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::decode::PcmBlock;
use crate::format::AudioFormat;
use crate::transcode::{BlockSink, SinkError};

/// The ReplayGain 2.0 reference level, in LUFS.
pub const REPLAYGAIN_REFERENCE_LUFS: f64 = -18.0;

/// Short-term blocks below this loudness are silence to the loudness range, in LUFS.
const ABSOLUTE_GATE_LUFS: f64 = -70.0;

/// Short-term blocks this far below the mean of those above the absolute gate are left out
/// of the loudness range, in LU.
const RANGE_RELATIVE_GATE_LU: f64 = -20.0;

/// A short-term block (3 s) spans this many 100 ms steps, and one ends at every step.
const STEPS_PER_SHORT_TERM_BLOCK: usize = 30;

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
    channels: usize,
    /// Frames in 100 ms, rounded as libebur128 rounds them, so both step together.
    step_frames: usize,
    /// Frames added since the last 100 ms step.
    into_step: usize,
    /// Mean-square power of the last 30 steps (scaled by a constant that cancels out).
    /// Summing these is the 3 s block's loudness at a hundredth of the cost of asking
    /// libebur128 for it, which adds up every sample of the block each time.
    recent_steps: VecDeque<f64>,
    /// Loudness of every 3 s block so far, in LUFS.
    short_term: Vec<f64>,
}

impl LoudnessMeter {
    /// A meter for PCM of `format`; channels map as BS.1770 expects (L, R, C, LFE
    /// unweighted, Ls, Rs).
    pub fn new(format: AudioFormat) -> Result<Self, UnmeasurableFormat> {
        let mode = Mode::I | Mode::SAMPLE_PEAK | Mode::TRUE_PEAK;
        let rate = format.sample_rate.hz();
        let meter = EbuR128::new(u32::from(format.channels.get()), rate, mode)
            .map_err(|_| UnmeasurableFormat { format })?;
        Ok(Self {
            meter,
            channels: format.channels.as_usize(),
            step_frames: (rate as usize + 5) / 10,
            into_step: 0,
            recent_steps: VecDeque::with_capacity(STEPS_PER_SHORT_TERM_BLOCK),
            short_term: Vec::new(),
        })
    }

    /// Adds interleaved samples of the meter's format.
    pub fn add(&mut self, mut samples: &[f32]) -> Result<(), SinkError> {
        while samples.len() >= self.channels {
            let frames = (self.step_frames - self.into_step).min(samples.len() / self.channels);
            let (now, rest) = samples.split_at(frames * self.channels);
            self.meter.add_frames_f32(now).map_err(SinkError::new)?;
            self.into_step += frames;
            if self.into_step == self.step_frames {
                self.end_step()?;
            }
            samples = rest;
        }
        Ok(())
    }

    fn end_step(&mut self) -> Result<(), SinkError> {
        self.into_step = 0;
        // libebur128 measures rate / 10 frames here and steps by (rate + 5) / 10: the same
        // for every rate that is a multiple of 10 Hz.
        let step = self.meter.loudness_window(100).map_err(SinkError::new)?;
        if self.recent_steps.len() == STEPS_PER_SHORT_TERM_BLOCK {
            self.recent_steps.pop_front();
        }
        self.recent_steps.push_back(10_f64.powf(step / 10.0));
        if self.recent_steps.len() == STEPS_PER_SHORT_TERM_BLOCK {
            let mean = self.recent_steps.iter().sum::<f64>() / STEPS_PER_SHORT_TERM_BLOCK as f64;
            self.short_term.push(10.0 * mean.log10());
        }
        Ok(())
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
            loudness_range_lu: loudness_range(&self.short_term),
            true_peak_dbtp: decibels(peak(EbuR128::true_peak)),
            sample_peak_dbfs: decibels(peak(EbuR128::sample_peak)),
            replaygain_track_gain_db: integrated_lufs.map(|lufs| REPLAYGAIN_REFERENCE_LUFS - lufs),
        }
    }
}

/// The spread between the 10th and the 95th percentile of the short-term loudnesses (LUFS)
/// that pass the absolute and the relative gate; 0 with fewer than two of them.
fn loudness_range(short_term: &[f64]) -> f64 {
    let audible: Vec<f64> = short_term
        .iter()
        .copied()
        .filter(|&lufs| lufs > ABSOLUTE_GATE_LUFS)
        .collect();
    if audible.is_empty() {
        return 0.0;
    }
    // The relative gate hangs off the mean energy, not the mean of the levels.
    let mean_energy = audible
        .iter()
        .map(|lufs| 10_f64.powf(lufs / 10.0))
        .sum::<f64>()
        / audible.len() as f64;
    let gate = 10.0 * mean_energy.log10() + RANGE_RELATIVE_GATE_LU;
    let mut gated: Vec<f64> = audible.into_iter().filter(|&lufs| lufs > gate).collect();
    if gated.len() < 2 {
        return 0.0;
    }
    gated.sort_by(f64::total_cmp);
    let at = |percentile: f64| gated[((gated.len() - 1) as f64 * percentile).round() as usize];
    at(0.95) - at(0.10)
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
    fn the_range_spans_the_10th_to_the_95th_percentile_of_the_gated_blocks() {
        let levels: Vec<f64> = (0..=100).map(|i| -30.0 + f64::from(i) / 10.0).collect();
        assert!((loudness_range(&levels) - 8.5).abs() < 1e-9);
    }

    #[test]
    fn blocks_far_below_the_rest_do_not_widen_the_range() {
        let mut levels = vec![-20.0; 50];
        levels.extend([-45.0; 50]);
        levels.push(-80.0);
        assert_eq!(loudness_range(&levels), 0.0);
    }

    #[test]
    fn samples_split_at_odd_places_measure_alike() {
        // Five seconds: 50 steps of 100 ms, so 21 short-term blocks.
        let signal: Vec<f32> = (0..160_000)
            .map(|i| (i as f32 * 0.05).sin() * 0.3)
            .collect();
        let mut whole = meter(16_000, 2);
        whole.add(&signal).expect("added");
        let mut pieces = meter(16_000, 2);
        for piece in signal.chunks(2 * 777) {
            pieces.add(piece).expect("added");
        }
        assert_eq!(whole.loudness(), pieces.loudness());
        assert_eq!(whole.short_term.len(), 21);
    }

    #[test]
    fn short_term_blocks_from_steps_match_libebur128s_own() {
        let signal: Vec<f32> = (0..80_000)
            .map(|i| (i as f32 * 0.03).sin() * (0.1 + (i / 4_000) as f32 * 0.04))
            .collect();
        let mut ours = meter(16_000, 1);
        ours.add(&signal).expect("added");
        let mut reference = EbuR128::new(1, 16_000, Mode::S).expect("a meter");
        reference.add_frames_f32(&signal).expect("added");
        let expected = reference.loudness_shortterm().expect("a loudness");
        let last = *ours.short_term.last().expect("a block");
        assert!((last - expected).abs() < 1e-9, "{last} against {expected}");
    }

    #[test]
    fn the_sample_peak_is_the_largest_magnitude_in_decibels() {
        let mut peaky = meter(8_000, 2);
        peaky.add(&[0.0, 0.25, -0.5, 0.0]).expect("added");
        let peak = peaky.loudness().sample_peak_dbfs.expect("a peak");
        assert!((peak - 20.0 * 0.5_f64.log10()).abs() < 1e-9, "{peak}");
    }
}
