//! Peaks of any audio the decoder reads.

use thiserror::Error;

use super::generator::PeaksBuilder;
use super::options::{InvalidOption, WaveformOptions};
use super::peaks::Peaks;
use crate::decode::{DecodeError, Decoder};

/// Audio that cannot become peaks.
#[derive(Debug, Error)]
pub enum WaveformError {
    /// The audio did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The options do not fit this audio (a zoom below 2 frames at its rate).
    #[error(transparent)]
    Options(#[from] InvalidOption),
}

/// Peaks of everything `decoder` yields, block by block.
pub fn peaks_from_decoder(
    decoder: &mut Decoder,
    options: &WaveformOptions,
) -> Result<Peaks, WaveformError> {
    let mut builder = PeaksBuilder::new(decoder.format(), options)?;
    while let Some(block) = decoder.next_block()? {
        builder.push(block.pcm16());
    }
    Ok(builder.finish())
}
