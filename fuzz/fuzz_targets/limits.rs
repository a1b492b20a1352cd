//! The bounds an upload is decoded within: those of a track's ingest.

use std::time::Duration;

use mixdown_media::{
    decode::DecodeLimits,
    format::{ChannelCount, SampleRate},
};

/// A track's defaults, but shorter: a fuzz input that declares hours must be refused by
/// the header check or cut by the frame count, never decoded for minutes.
pub fn upload_limits() -> DecodeLimits {
    DecodeLimits {
        max_duration: Duration::from_secs(600),
        max_sample_rate: SampleRate::new(192_000).expect("a valid rate"),
        max_channels: ChannelCount::MAX,
    }
}
