//! Any audio file in, bounded blocks of PCM out: the one decoder behind waveforms, upload
//! ingest and transcoding.
//!
//! # Backends
//!
//! Integer PCM WAV, the plainest and most common lossless upload, is read by Mixdown's own
//! reader straight into blocks (see `wav_reader`); a WAV it finds anything unusual in goes
//! on to symphonia like every other input. [symphonia] is tried next: it reads WAV, AIFF, MP3, FLAC, AAC in ADTS and Ogg Vorbis in
//! pure Rust. Its MP4 demuxer is left out, so MP4/M4A goes to FFmpeg: symphonia ignores MP4
//! edit lists and would keep AAC's encoder priming (1024 frames from FFmpeg's encoder),
//! shifting every peak.
//! What else it cannot read — no container it recognises, no audio track it
//! understands, a codec it has no decoder for (Opus above all) — goes to FFmpeg. A container
//! symphonia recognises but finds malformed is corrupt and does not go to FFmpeg, whose
//! leniency would otherwise accept, say, a WAV whose chunk sizes contradict each other.
//! The probe goes
//! by content only: symphonia gets no hint, and FFmpeg opens the bytes under a name without
//! an extension, so AAC in a file named `.mp3` is found to be AAC and a text file named
//! `.mp3` is refused. When both refuse, FFmpeg's error is reported unless it merely failed
//! to recognise the input.
//!
//! # Strictness
//!
//! Any packet that fails to decode ends the decode with [`DecodeError::Corrupt`]; FFmpeg's
//! command-line tool would skip such packets, but an upload with holes is better refused at
//! ingest than played with gaps. A container that declares its length (WAV and AIFF data
//! sizes, FLAC stream info, MP3 Xing/Info/VBRI headers, read through symphonia) must
//! deliver at least 99% of the declared frames, or the decode ends with
//! [`DecodeError::Truncated`]: a cut-off upload or a WAV whose header lies about its size.
//! The 1% slack absorbs symphonia's bit-rate estimate for MP3s without a Xing header.
//! Durations FFmpeg reports are estimates and are not checked this way.
//!
//! # Memory
//!
//! One [`PcmBlock`] holds one codec packet (up to 65 535 frames for FLAC, a few thousand for
//! the others) and is reused, plus the demuxer's read buffer; nothing grows with the length
//! of the input. FLAC and symphonia's PCM, whose packets decode independently, are decoded
//! on up to two decoding threads a few packets ahead (see `decode_pool`), which adds those
//! few blocks.

mod block;
mod decode_pool;
mod error;
mod ffmpeg_reader;
mod limits;
mod probe;
mod source;
mod symphonia_reader;
mod wav_reader;

use std::io::{Read, Seek};
use std::path::Path;
use std::time::Duration;

pub use block::PcmBlock;
pub use error::{DecodeError, ErrorCode};
pub use limits::DecodeLimits;
pub use probe::{Backend, Codec, Container, Probe};

use crate::format::{AudioFormat, ChannelCount, SampleRate};
use ffmpeg_reader::FfmpegReader;
pub(crate) use ffmpeg_reader::init as init_ffmpeg;
use probe::Header;
use source::{Input, NeutralPath, SharedReader};
use symphonia_reader::{Opened, SymphoniaReader};
use wav_reader::WavReader;

/// Streams the audio of one input as [`PcmBlock`]s.
pub struct Decoder {
    reader: Reader,
    probe: Probe,
    limits: DecodeLimits,
    max_frames: u64,
    declared_frames: Option<u64>,
    block: PcmBlock,
    frames: u64,
    state: State,
}

enum Reader {
    Wav(WavReader),
    Symphonia(SymphoniaReader),
    Ffmpeg {
        reader: FfmpegReader,
        _path: NeutralPath,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The block decoded while opening has not been handed out yet.
    FirstBlockHeld,
    Streaming,
    Ended,
}

impl Decoder {
    /// Opens the file at `path`, decoding its first block to learn the PCM format.
    pub fn open_path(path: impl AsRef<Path>, limits: DecodeLimits) -> Result<Self, DecodeError> {
        Self::open(Input::File(path.as_ref().to_owned()), limits)
    }

    /// Opens any seekable reader. If FFmpeg has to decode it, it is first copied to a
    /// temporary file, since FFmpeg's safe API only opens paths.
    pub fn open_reader(
        reader: impl Read + Seek + Send + 'static,
        limits: DecodeLimits,
    ) -> Result<Self, DecodeError> {
        Self::open(Input::Reader(SharedReader::new(reader)?), limits)
    }

    fn open(input: Input, limits: DecodeLimits) -> Result<Self, DecodeError> {
        let byte_len = input.byte_len()?;
        if byte_len == 0 {
            return Err(DecodeError::Empty);
        }
        let (mut reader, header) = open_backend(&input)?;
        if header
            .duration
            .is_some_and(|declared| declared > limits.max_duration)
        {
            return Err(DecodeError::TooLong {
                limit: limits.max_duration,
            });
        }
        // Overwritten by the first read; a block never leaves the decoder unfilled.
        let mut block = PcmBlock::new(AudioFormat {
            sample_rate: SampleRate::MAX,
            channels: ChannelCount::MONO,
        });
        if !reader.read_block(&mut block, 0)? {
            return Err(DecodeError::Empty);
        }
        let format = block.format();
        check_format(format, &limits)?;
        let declared_frames = header.declared_frames;
        let decoder = Self {
            reader,
            probe: header.into_probe(format, Some(byte_len)),
            limits,
            max_frames: limits.max_frames(format.sample_rate),
            declared_frames,
            frames: block.frames() as u64,
            block,
            state: State::FirstBlockHeld,
        };
        decoder.check_length()?;
        Ok(decoder)
    }

    /// Fills only the 16-bit view of the blocks after the first ([`PcmBlock::pcm16`]): a
    /// consumer that only draws peaks skips a conversion and a copy per sample.
    pub fn peaks_only(mut self) -> Self {
        self.block.drop_floats();
        self
    }

    /// What the input holds.
    pub fn probe(&self) -> &Probe {
        &self.probe
    }

    /// Sample rate and channels of every block.
    pub fn format(&self) -> AudioFormat {
        self.probe.format
    }

    /// Frames decoded so far; after the last block, the true length of the input.
    pub fn frames_decoded(&self) -> u64 {
        self.frames
    }

    /// Duration of the frames decoded so far.
    pub fn duration_decoded(&self) -> Duration {
        Duration::from_secs_f64(self.frames as f64 / f64::from(self.format().sample_rate.hz()))
    }

    /// The next block, or `None` once the input is fully and validly decoded. An error ends
    /// the stream: later calls return `None`.
    pub fn next_block(&mut self) -> Result<Option<&PcmBlock>, DecodeError> {
        match self.advance() {
            Ok(true) => Ok(Some(&self.block)),
            Ok(false) => Ok(None),
            Err(error) => {
                self.state = State::Ended;
                Err(error)
            }
        }
    }

    fn advance(&mut self) -> Result<bool, DecodeError> {
        match self.state {
            State::Ended => return Ok(false),
            State::FirstBlockHeld => {
                self.state = State::Streaming;
                return Ok(true);
            }
            State::Streaming => {}
        }
        if !self.reader.read_block(&mut self.block, self.frames)? {
            self.state = State::Ended;
            self.check_complete()?;
            return Ok(false);
        }
        if self.block.format() != self.probe.format {
            return Err(DecodeError::FormatChanged {
                from: self.probe.format,
                to: self.block.format(),
            });
        }
        self.frames += self.block.frames() as u64;
        self.check_length()?;
        Ok(true)
    }

    fn check_length(&self) -> Result<(), DecodeError> {
        if self.frames > self.max_frames {
            return Err(DecodeError::TooLong {
                limit: self.limits.max_duration,
            });
        }
        Ok(())
    }

    fn check_complete(&self) -> Result<(), DecodeError> {
        match self.declared_frames {
            Some(declared) if self.frames < declared - declared / 100 => {
                Err(DecodeError::Truncated {
                    declared,
                    decoded: self.frames,
                })
            }
            _ => Ok(()),
        }
    }
}

impl Reader {
    fn read_block(&mut self, block: &mut PcmBlock, first_frame: u64) -> Result<bool, DecodeError> {
        match self {
            Self::Wav(reader) => reader.read_block(block, first_frame),
            Self::Symphonia(reader) => reader.read_block(block, first_frame),
            Self::Ffmpeg { reader, .. } => reader.read_block(block, first_frame),
        }
    }
}

fn open_backend(input: &Input) -> Result<(Reader, Header), DecodeError> {
    let (source, _) = input.audio_source()?;
    let source = match wav_reader::open(source)? {
        wav_reader::Opened::Reading(reader, header) => return Ok((Reader::Wav(reader), header)),
        wav_reader::Opened::Declined(source) => source,
    };
    let declined = match symphonia_reader::open(source)? {
        Opened::Decoding(reader, header) => return Ok((Reader::Symphonia(reader), header)),
        // A container symphonia knows and finds malformed is corrupt, however lenient FFmpeg
        // might be with it.
        Opened::Declined(
            why @ (DecodeError::Unrecognised
            | DecodeError::NoAudioTrack
            | DecodeError::UnsupportedCodec(_)),
        ) => why,
        Opened::Declined(why) => return Err(why),
    };
    let path = input.neutral_path()?;
    match ffmpeg_reader::open(path.path()) {
        Ok((reader, header)) => Ok((
            Reader::Ffmpeg {
                reader,
                _path: path,
            },
            header,
        )),
        Err(DecodeError::Unrecognised) => Err(declined),
        Err(other) => Err(other),
    }
}

fn check_format(format: AudioFormat, limits: &DecodeLimits) -> Result<(), DecodeError> {
    if format.sample_rate > limits.max_sample_rate {
        return Err(DecodeError::SampleRateAboveLimit {
            found: format.sample_rate.hz(),
            limit: limits.max_sample_rate,
        });
    }
    if format.channels > limits.max_channels {
        return Err(DecodeError::TooManyChannels {
            found: u32::from(format.channels.get()),
            limit: limits.max_channels,
        });
    }
    Ok(())
}

/// The typed format of a decoded buffer; a zero rate or channel count is corrupt data.
fn format_of(rate: u32, channels: u32) -> Result<AudioFormat, DecodeError> {
    let sample_rate =
        SampleRate::new(rate).map_err(|error| DecodeError::Corrupt(error.to_string()))?;
    let channels = match u16::try_from(channels).map(ChannelCount::new) {
        Ok(Ok(count)) => count,
        _ if channels == 0 => return Err(DecodeError::Corrupt("no channels".to_owned())),
        _ => {
            return Err(DecodeError::TooManyChannels {
                found: channels,
                limit: ChannelCount::MAX,
            });
        }
    };
    Ok(AudioFormat {
        sample_rate,
        channels,
    })
}
