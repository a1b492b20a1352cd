//! Consumers of the decoded PCM that ride along in a transcode's single decode pass.

use super::error::SinkError;
use crate::decode::PcmBlock;

/// Anything that consumes decoded PCM in the same pass as the encoders: loudness, peaks.
///
/// A sink runs on a thread of its own and sees every block of the input, in order, then
/// [`Self::finish`] once. When the transcode fails or stops, it is simply dropped without
/// `finish`.
pub trait BlockSink: Send {
    /// Takes the next block.
    fn push(&mut self, block: &PcmBlock) -> Result<(), SinkError>;

    /// Called once after the last block.
    fn finish(&mut self) -> Result<(), SinkError>;
}
