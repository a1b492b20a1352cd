//! What the decoding targets share: an upload's bounds, and panics left to the decoder.

use std::{sync::Once, time::Duration};

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

/// Puts back the default panic hook in place of libFuzzer's, which aborts at once: the
/// decoder turns a panic inside a decoding library into `corrupt_audio`, as a worker sees
/// it. A panic that escapes the target still aborts the run.
pub fn let_contained_panics_unwind() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| drop(std::panic::take_hook()));
}
