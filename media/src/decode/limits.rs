//! Bounds an input must stay within, chosen by the caller (upload policy, CLI, tests).

use std::time::Duration;

use crate::format::{ChannelCount, SampleRate};

/// Longest, fastest and widest audio a decode accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Longest duration; checked against the header before decoding and against the frames
    /// actually decoded, so a header that understates the length does not slip through.
    pub max_duration: Duration,
    /// Highest sample rate.
    pub max_sample_rate: SampleRate,
    /// Most channels.
    pub max_channels: ChannelCount,
}

impl DecodeLimits {
    /// Only the limits of the types themselves: for tools run by hand on trusted files.
    pub fn permissive() -> Self {
        Self {
            max_duration: Duration::MAX,
            max_sample_rate: SampleRate::MAX,
            max_channels: ChannelCount::MAX,
        }
    }

    /// Frames at `rate` that fit in the duration limit, rounded up.
    pub(crate) fn max_frames(&self, rate: SampleRate) -> u64 {
        let frames = (self.max_duration.as_secs_f64() * f64::from(rate.hz())).ceil();
        // Float-to-int `as` saturates, which is what an unlimited duration needs.
        frames as u64
    }
}
