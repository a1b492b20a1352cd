//! A finished set of waveform peaks: min/max pairs per pixel per channel.

use std::slice::ChunksExact;

use thiserror::Error;

use super::options::SamplesPerPixel;
use crate::format::{ChannelCount, SampleRate};

/// Lowest and highest 16-bit sample of one channel over one pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MinMax {
    /// Lowest sample.
    pub min: i16,
    /// Highest sample.
    pub max: i16,
}

impl MinMax {
    /// Peak distance from silence; `u16` because `|i16::MIN|` does not fit an `i16`.
    pub fn magnitude(self) -> u16 {
        self.min.unsigned_abs().max(self.max.unsigned_abs())
    }
}

/// A set of pairs that cannot form a peak set.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PeaksError {
    /// The pair count is not a whole number of pixels.
    #[error("{pairs} min/max pairs do not split evenly into {channels} channels")]
    Ragged {
        /// Pairs given.
        pairs: usize,
        /// Channels expected per pixel.
        channels: u16,
    },
}

/// Peaks of a whole recording, always held at 16 bits; 8-bit output is made when encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peaks {
    sample_rate: SampleRate,
    samples_per_pixel: SamplesPerPixel,
    channels: ChannelCount,
    pairs: Vec<MinMax>,
}

impl Peaks {
    /// Takes pairs ordered pixel by pixel, channels interleaved within each pixel.
    pub fn new(
        sample_rate: SampleRate,
        samples_per_pixel: SamplesPerPixel,
        channels: ChannelCount,
        pairs: Vec<MinMax>,
    ) -> Result<Self, PeaksError> {
        if !pairs.len().is_multiple_of(channels.as_usize()) {
            return Err(PeaksError::Ragged {
                pairs: pairs.len(),
                channels: channels.get(),
            });
        }
        Ok(Self {
            sample_rate,
            samples_per_pixel,
            channels,
            pairs,
        })
    }

    /// For pairs that come from a generator, which only ever emits whole pixels.
    pub(crate) fn from_whole_pixels(
        sample_rate: SampleRate,
        samples_per_pixel: SamplesPerPixel,
        channels: ChannelCount,
        pairs: Vec<MinMax>,
    ) -> Self {
        debug_assert!(pairs.len().is_multiple_of(channels.as_usize()));
        Self {
            sample_rate,
            samples_per_pixel,
            channels,
            pairs,
        }
    }

    /// Sample rate of the source audio.
    pub fn sample_rate(&self) -> SampleRate {
        self.sample_rate
    }

    /// Frames behind each pixel.
    pub fn samples_per_pixel(&self) -> SamplesPerPixel {
        self.samples_per_pixel
    }

    /// Waveform channels (1 unless channels were split).
    pub fn channels(&self) -> ChannelCount {
        self.channels
    }

    /// Number of pixels, the `length` field of `.dat` and JSON.
    pub fn len(&self) -> usize {
        self.pairs.len() / self.channels.as_usize()
    }

    /// Whether there are no pixels.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// All pairs, pixel by pixel with channels interleaved.
    pub fn pairs(&self) -> &[MinMax] {
        &self.pairs
    }

    /// Pixels in order, each a slice of one pair per channel.
    pub fn pixels(&self) -> ChunksExact<'_, MinMax> {
        self.pairs.chunks_exact(self.channels.as_usize())
    }

    /// The pair of `channel` at `pixel`, if both exist.
    pub fn get(&self, pixel: usize, channel: u16) -> Option<MinMax> {
        if channel >= self.channels.get() {
            return None;
        }
        let index = pixel.checked_mul(self.channels.as_usize())? + usize::from(channel);
        self.pairs.get(index).copied()
    }

    /// Mutable pairs, for rescaling in place.
    pub(crate) fn pairs_mut(&mut self) -> &mut [MinMax] {
        &mut self.pairs
    }

    /// Gives the pairs up, pixel by pixel with channels interleaved.
    pub fn into_pairs(self) -> Vec<MinMax> {
        self.pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stereo(pairs: Vec<MinMax>) -> Result<Peaks, PeaksError> {
        let rate = SampleRate::new(8000).expect("rate");
        let channels = ChannelCount::new(2).expect("channels");
        Peaks::new(rate, SamplesPerPixel::DEFAULT, channels, pairs)
    }

    #[test]
    fn pairs_that_do_not_fill_the_last_pixel_are_refused() {
        let pair = MinMax { min: -1, max: 1 };
        assert!(matches!(
            stereo(vec![pair; 3]),
            Err(PeaksError::Ragged { .. })
        ));
    }

    #[test]
    fn pairs_are_found_by_pixel_and_channel() {
        let left = MinMax { min: -1, max: 1 };
        let right = MinMax { min: -2, max: 2 };
        let peaks = stereo(vec![left, right, left, right]).expect("peaks");
        assert_eq!(peaks.len(), 2);
        assert_eq!(peaks.get(1, 1), Some(right));
        assert_eq!(peaks.get(0, 2), None);
        assert_eq!(peaks.get(2, 0), None);
    }

    #[test]
    fn the_magnitude_of_full_negative_scale_is_32768() {
        assert_eq!(
            MinMax {
                min: i16::MIN,
                max: 0
            }
            .magnitude(),
            32768
        );
    }
}
