//! Why a file could not be decoded, with the stable code clients and job rows see.

use std::io;
use std::time::Duration;

use thiserror::Error;

use crate::format::{AudioFormat, ChannelCount, SampleRate};

/// A stable, client-facing classification of a [`DecodeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Not audio, or audio in a container or codec that no backend reads.
    UnsupportedFormat,
    /// Recognised audio whose data is damaged or cut short.
    CorruptAudio,
    /// No bytes, or no audio frames.
    EmptyAudio,
    /// Longer than the duration limit.
    TooLong,
    /// The input could not be read; not the uploader's fault.
    ReadFailed,
}

impl ErrorCode {
    /// The code as stored and sent: `unsupported_format`, `corrupt_audio`, `empty_audio`,
    /// `too_long` or `read_failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnsupportedFormat => "unsupported_format",
            Self::CorruptAudio => "corrupt_audio",
            Self::EmptyAudio => "empty_audio",
            Self::TooLong => "too_long",
            Self::ReadFailed => "read_failed",
        }
    }
}

/// An input that cannot be decoded, or stopped decoding.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// Reading the input failed.
    #[error("cannot read the input")]
    Io(#[from] io::Error),
    /// The input holds no bytes, or no audio frames.
    #[error("the input holds no audio")]
    Empty,
    /// No backend recognises the bytes as audio.
    #[error("not a recognised audio format")]
    Unrecognised,
    /// A recognised container without an audio track.
    #[error("the input has no audio track")]
    NoAudioTrack,
    /// An audio track in a codec no backend decodes.
    #[error("unsupported audio codec {0}")]
    UnsupportedCodec(String),
    /// The sample rate exceeds the limit.
    #[error("sample rate {found} Hz is above the limit of {limit}")]
    SampleRateAboveLimit {
        /// Rate of the input.
        found: u32,
        /// Highest rate accepted.
        limit: SampleRate,
    },
    /// More channels than the limit.
    #[error("{found} channels are more than the limit of {}", limit.get())]
    TooManyChannels {
        /// Channels of the input.
        found: u32,
        /// Most channels accepted.
        limit: ChannelCount,
    },
    /// The sample rate or channel count changes part-way through.
    #[error("the audio format changes mid-stream from {from:?} to {to:?}")]
    FormatChanged {
        /// Format of the first block.
        from: AudioFormat,
        /// Format found later.
        to: AudioFormat,
    },
    /// The stream starts over with new parameters part-way through (a chained stream).
    #[error("the audio stream restarts with new parameters mid-way")]
    StreamRestart,
    /// The data is malformed.
    #[error("corrupt audio: {0}")]
    Corrupt(String),
    /// Far fewer frames than the header declares.
    #[error("truncated audio: {decoded} of the {declared} frames the header declares")]
    Truncated {
        /// Frames the container declares.
        declared: u64,
        /// Frames actually decoded.
        decoded: u64,
    },
    /// The audio lasts longer than the limit.
    #[error("the audio is longer than the limit of {} s", limit.as_secs_f64())]
    TooLong {
        /// Longest duration accepted.
        limit: Duration,
    },
}

impl DecodeError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Io(_) => ErrorCode::ReadFailed,
            Self::Empty => ErrorCode::EmptyAudio,
            Self::Unrecognised
            | Self::NoAudioTrack
            | Self::UnsupportedCodec(_)
            | Self::SampleRateAboveLimit { .. }
            | Self::TooManyChannels { .. }
            | Self::FormatChanged { .. }
            | Self::StreamRestart => ErrorCode::UnsupportedFormat,
            Self::Corrupt(_) | Self::Truncated { .. } => ErrorCode::CorruptAudio,
            Self::TooLong { .. } => ErrorCode::TooLong,
        }
    }

    /// Whether the input, not the machine, is at fault.
    pub fn is_client_error(&self) -> bool {
        self.code() != ErrorCode::ReadFailed
    }
}
