//! An uploaded sample decoded to mono PCM, within a voice sample's bounds.

use std::{io::Cursor, time::Duration};

use bytes::Bytes;
use mixdown_media::{
    decode::{DecodeError, DecodeLimits, Decoder},
    format::{ChannelCount, SampleRate},
};
use mixdown_voice::Audio;

use super::VoiceJobError;

/// Longest sample decoded: speech for a voiceprint needs seconds, not minutes.
const MAX_SAMPLE_DURATION: Duration = Duration::from_secs(60);
/// Highest rate the voice engine resamples from.
const MAX_SAMPLE_RATE: u32 = 192_000;

/// Mono samples and their rate.
pub(super) struct Mono {
    samples: Vec<f32>,
    rate: u32,
}

impl Mono {
    /// The samples as the engine takes them.
    pub fn audio(&self) -> Audio<'_> {
        Audio {
            samples: &self.samples,
            sample_rate: self.rate,
        }
    }
}

/// Decodes sample `index` of a job, averaging its channels.
pub(super) fn decode(bytes: Bytes, index: usize) -> Result<Mono, VoiceJobError> {
    let failed = |source: DecodeError| VoiceJobError::Decode { index, source };
    let limits = DecodeLimits {
        max_duration: MAX_SAMPLE_DURATION,
        max_sample_rate: SampleRate::new(MAX_SAMPLE_RATE).expect("a valid rate"),
        max_channels: ChannelCount::MAX,
    };
    let mut decoder = Decoder::open_reader(Cursor::new(bytes), limits).map_err(failed)?;
    let format = decoder.format();
    let channels = format.channels.as_usize();
    let mut samples = Vec::new();
    while let Some(block) = decoder.next_block().map_err(failed)? {
        let frames = block.samples().chunks_exact(channels);
        samples.extend(frames.map(|f| f.iter().sum::<f32>() / channels as f32));
    }
    Ok(Mono {
        samples,
        rate: format.sample_rate.hz(),
    })
}
