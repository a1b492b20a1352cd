//! Shape of PCM audio shared by the decoder, the peak generator and later consumers.

use std::fmt;
use std::num::NonZeroU32;

use thiserror::Error;

/// A sample rate or channel count that no audio Mixdown handles may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum InvalidFormat {
    /// A sample rate of 0 Hz or beyond `i32`.
    #[error("invalid sample rate {0} Hz: must be from 1 to 2147483647")]
    SampleRate(i64),
    /// A channel count of 0 or above the maximum.
    #[error("invalid channel count {0}: must be from 1 to {MAX_CHANNELS}")]
    Channels(i64),
}

/// Most channels accepted; like audiowaveform, Mixdown refuses files with more.
pub const MAX_CHANNELS: u16 = 24;

/// Audio sample rate in Hz: at least 1, and small enough for the `i32` of a `.dat` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SampleRate(NonZeroU32);

impl SampleRate {
    /// The highest rate a `.dat` header can hold.
    pub const MAX: Self = Self(NonZeroU32::new(i32::MAX.unsigned_abs()).expect("non-zero"));

    /// Accepts 1 ..= `i32::MAX` Hz.
    pub fn new(hz: u32) -> Result<Self, InvalidFormat> {
        match NonZeroU32::new(hz) {
            Some(rate) if i32::try_from(hz).is_ok() => Ok(Self(rate)),
            _ => Err(InvalidFormat::SampleRate(i64::from(hz))),
        }
    }

    /// The rate in Hz.
    pub fn hz(self) -> u32 {
        self.0.get()
    }
}

impl TryFrom<i32> for SampleRate {
    type Error = InvalidFormat;

    fn try_from(hz: i32) -> Result<Self, Self::Error> {
        u32::try_from(hz)
            .map_err(|_| InvalidFormat::SampleRate(i64::from(hz)))
            .and_then(Self::new)
    }
}

impl fmt::Display for SampleRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Hz", self.hz())
    }
}

/// Number of interleaved channels: 1 ..= [`MAX_CHANNELS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelCount(u16);

impl ChannelCount {
    /// A single channel.
    pub const MONO: Self = Self(1);

    /// The most channels accepted.
    pub const MAX: Self = Self(MAX_CHANNELS);

    /// Accepts 1 ..= [`MAX_CHANNELS`].
    pub fn new(channels: u16) -> Result<Self, InvalidFormat> {
        if (1..=MAX_CHANNELS).contains(&channels) {
            Ok(Self(channels))
        } else {
            Err(InvalidFormat::Channels(i64::from(channels)))
        }
    }

    /// The count as a `u16`.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The count as a `usize`, for indexing.
    pub fn as_usize(self) -> usize {
        usize::from(self.0)
    }
}

impl TryFrom<i32> for ChannelCount {
    type Error = InvalidFormat;

    fn try_from(channels: i32) -> Result<Self, Self::Error> {
        u16::try_from(channels)
            .map_err(|_| InvalidFormat::Channels(i64::from(channels)))
            .and_then(Self::new)
    }
}

/// Sample rate and channel count of a stream of PCM frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioFormat {
    /// Frames per second.
    pub sample_rate: SampleRate,
    /// Samples per frame.
    pub channels: ChannelCount,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_sample_rate_is_rejected() {
        assert!(SampleRate::new(0).is_err());
    }

    #[test]
    fn a_sample_rate_beyond_the_dat_header_is_rejected() {
        assert!(SampleRate::new(u32::MAX).is_err());
    }

    #[test]
    fn channel_counts_outside_one_to_the_maximum_are_rejected() {
        assert!(ChannelCount::new(0).is_err());
        assert!(ChannelCount::new(MAX_CHANNELS + 1).is_err());
        assert_eq!(ChannelCount::new(2).map(ChannelCount::get), Ok(2));
    }
}
