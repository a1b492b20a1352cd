//! A bounded run of decoded frames, in the shapes its consumers need.

use crate::format::AudioFormat;
use crate::waveform::pcm;

/// `2^31`: the magnitude of full scale for samples widened to `i32`.
const I32_FULL_SCALE: f32 = 2_147_483_648.0;

/// Decoded frames of one packet, interleaved, held two ways: `f32` at nominal -1.0 ..= 1.0
/// for encoders and analysis, and 16-bit integers converted exactly as audiowaveform reads
/// the source (see [`pcm`]) for peaks.
///
/// A block holds at most one codec packet (a few thousand frames, 65 535 at most for FLAC),
/// and the decoder reuses it, so memory does not grow with the input. A decoder made
/// [`peaks_only`](super::Decoder::peaks_only) leaves the `f32` view empty.
#[derive(Debug, Clone, PartialEq)]
pub struct PcmBlock {
    format: AudioFormat,
    first_frame: u64,
    samples: Vec<f32>,
    pcm16: Vec<i16>,
    fill_floats: bool,
}

impl PcmBlock {
    pub(crate) fn new(format: AudioFormat) -> Self {
        Self {
            format,
            first_frame: 0,
            samples: Vec::new(),
            pcm16: Vec::new(),
            fill_floats: true,
        }
    }

    /// From the next reset on, only the 16-bit view is filled.
    pub(crate) fn drop_floats(&mut self) {
        self.fill_floats = false;
    }

    /// An empty block of the same format that fills the same views.
    pub(crate) fn empty_like(&self) -> Self {
        Self {
            fill_floats: self.fill_floats,
            ..Self::new(self.format)
        }
    }

    /// Fills the views `other` fills from the next reset on, and drops an `f32` view
    /// `other` would not have.
    pub(crate) fn adopt_views(&mut self, other: &Self) {
        self.fill_floats = other.fill_floats;
        if !self.fill_floats {
            self.samples.clear();
        }
    }

    /// Places these frames at `first_frame` of the stream.
    pub(crate) fn set_first_frame(&mut self, first_frame: u64) {
        self.first_frame = first_frame;
    }

    /// Sample rate and channels of these frames.
    pub fn format(&self) -> AudioFormat {
        self.format
    }

    /// Index in the whole stream of the first frame here.
    pub fn first_frame(&self) -> u64 {
        self.first_frame
    }

    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.pcm16.len() / self.format.channels.as_usize()
    }

    /// Interleaved `f32` samples (none from a peaks-only decoder).
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// Interleaved 16-bit samples, as audiowaveform would read them from this source.
    pub fn pcm16(&self) -> &[i16] {
        &self.pcm16
    }

    /// The `f32` samples of one channel (planar view); empty for a channel that does not exist.
    pub fn channel(&self, index: usize) -> impl Iterator<Item = f32> + '_ {
        let channels = self.format.channels.as_usize();
        let start = if index < channels {
            index
        } else {
            self.samples.len()
        };
        self.samples.iter().copied().skip(start).step_by(channels)
    }

    /// Empties the block for frames of `format` starting at `first_frame`.
    pub(crate) fn reset(&mut self, format: AudioFormat, first_frame: u64) {
        self.format = format;
        self.first_frame = first_frame;
        self.samples.clear();
        self.pcm16.clear();
    }

    /// Appends an integer sample widened to full `i32` scale (a 16-bit `s` as `s << 16`).
    pub(crate) fn push_int(&mut self, sample: i32) {
        if self.fill_floats {
            self.samples.push(sample as f32 / I32_FULL_SCALE);
        }
        self.pcm16.push(pcm::from_i32(sample));
    }

    /// Appends a float sample.
    pub(crate) fn push_float(&mut self, sample: f32) {
        if self.fill_floats {
            self.samples.push(finite(sample));
        }
        self.pcm16.push(pcm::from_f32(sample));
    }

    /// Appends interleaved integer samples in a tight loop per view (see
    /// [`Self::push_int`]).
    pub(crate) fn extend_int(&mut self, samples: impl Iterator<Item = i32> + Clone) {
        if self.fill_floats {
            self.samples
                .extend(samples.clone().map(|s| s as f32 / I32_FULL_SCALE));
        }
        self.pcm16.extend(samples.map(pcm::from_i32));
    }

    /// Appends interleaved float samples in a tight loop per view (see
    /// [`Self::push_float`]).
    pub(crate) fn extend_float(&mut self, samples: &[f32]) {
        if self.fill_floats {
            self.samples.extend(samples.iter().copied().map(finite));
        }
        self.pcm16
            .extend(samples.iter().copied().map(pcm::from_f32));
    }
}

/// A float sample as the 16-bit view reads it: NaN as silence, an infinity as full scale.
/// Encoders and loudness meters fed a NaN or an infinity (a crafted float WAV, a broken AAC
/// frame) would carry it into every output.
fn finite(sample: f32) -> f32 {
    if sample.is_finite() {
        sample
    } else if sample.is_nan() {
        0.0
    } else {
        sample.signum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ChannelCount, SampleRate};

    fn stereo_block() -> PcmBlock {
        let format = AudioFormat {
            sample_rate: SampleRate::new(48000).expect("rate"),
            channels: ChannelCount::new(2).expect("channels"),
        };
        let mut block = PcmBlock::new(format);
        block.reset(format, 10);
        for sample in [i32::MIN, 1 << 16, -(1 << 30), 0] {
            block.push_int(sample);
        }
        block
    }

    #[test]
    fn integer_samples_keep_their_top_bits_and_scale_to_unit_floats() {
        let block = stereo_block();
        assert_eq!(block.pcm16(), &[i16::MIN, 1, -16384, 0]);
        assert_eq!(block.samples()[0], -1.0);
        assert_eq!(block.samples()[2], -0.5);
        assert_eq!(block.frames(), 2);
        assert_eq!(block.first_frame(), 10);
    }

    #[test]
    fn a_channel_view_steps_over_the_other_channels() {
        let block = stereo_block();
        let right: Vec<f32> = block.channel(1).collect();
        assert_eq!(right, vec![1.0 / 32768.0, 0.0]);
        assert_eq!(block.channel(2).count(), 0);
    }

    #[test]
    fn non_finite_floats_become_silence_or_full_scale_in_both_views() {
        let mut block = stereo_block();
        block.extend_float(&[f32::NAN, f32::INFINITY]);
        block.push_float(f32::NEG_INFINITY);
        assert_eq!(&block.samples()[4..], &[0.0, 1.0, -1.0]);
        assert_eq!(&block.pcm16()[4..], &[0, i16::MAX, i16::MIN]);
    }

    #[test]
    fn float_samples_convert_as_audiowaveform_reads_float_files() {
        let mut block = stereo_block();
        block.push_float(0.5);
        assert_eq!(block.pcm16().last(), Some(&16383));
    }
}
