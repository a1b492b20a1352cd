//! Why a transcode ended without its outputs.

use std::error::Error as StdError;

use thiserror::Error;

use crate::decode::DecodeError;

/// The boxed cause of a failure in FFmpeg, the file system or a sink.
pub type Cause = Box<dyn StdError + Send + Sync>;

/// A [`super::BlockSink`] that could not take a block or finish.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct SinkError(Cause);

impl SinkError {
    /// Wraps any error or message.
    pub fn new(cause: impl Into<Cause>) -> Self {
        Self(cause.into())
    }
}

/// A transcode that did not finish; see [`super::transcode`] for what it leaves behind.
#[derive(Debug, Error)]
pub enum TranscodeError {
    /// The input could not be decoded; keeps the decoder's code.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An encoder could not be set up or refused the audio.
    #[error("preset {preset}: cannot encode ({step})")]
    Encode {
        /// The preset's name.
        preset: String,
        /// What was being done.
        step: &'static str,
        /// What FFmpeg said.
        #[source]
        cause: Cause,
    },
    /// An output could not be written.
    #[error("preset {preset}: cannot write the output ({step})")]
    Write {
        /// The preset's name.
        preset: String,
        /// What was being done.
        step: &'static str,
        /// What the muxer or the file system said.
        #[source]
        cause: Cause,
    },
    /// A preset's clip starts after the end of the audio, so it would be empty.
    #[error("preset {preset}: the clip starts after the audio ends")]
    ClipOutsideAudio {
        /// The preset's name.
        preset: String,
    },
    /// Two presets share a name, and so would share output files.
    #[error("preset name {0} is used twice")]
    DuplicatePreset(String),
    /// A block sink failed.
    #[error("a block sink failed")]
    Sink(#[source] SinkError),
    /// The progress callback asked to stop.
    #[error("stopped before the end of the input")]
    Stopped,
}

impl TranscodeError {
    /// The stable code: the decoder's (`corrupt_audio`, `too_long`, …) for decode errors,
    /// else `encode_failed`, `write_failed`, `clip_outside_audio`, `duplicate_preset`,
    /// `sink_failed` or `stopped`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Decode(error) => error.code().as_str(),
            Self::Encode { .. } => "encode_failed",
            Self::Write { .. } => "write_failed",
            Self::ClipOutsideAudio { .. } => "clip_outside_audio",
            Self::DuplicatePreset(_) => "duplicate_preset",
            Self::Sink(_) => "sink_failed",
            Self::Stopped => "stopped",
        }
    }

    /// Whether the input, not the machine or the caller, is at fault.
    pub fn is_client_error(&self) -> bool {
        match self {
            Self::Decode(error) => error.is_client_error(),
            _ => false,
        }
    }
}
