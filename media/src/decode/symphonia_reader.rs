//! The pure-Rust backend: symphonia's probe, demuxers and decoders.

use std::io::ErrorKind;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use symphonia::core::audio::GenericAudioBufferRef;
use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, Track, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::default::{get_codecs, get_probe};

use super::block::PcmBlock;
use super::error::DecodeError;
use super::format_of;
use super::probe::{Backend, Codec, Container, Header};

/// An open input that symphonia decodes.
pub(super) struct SymphoniaReader {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    ints: Vec<i32>,
    floats: Vec<f32>,
}

/// How opening with symphonia went.
pub(super) enum Opened {
    /// Symphonia reads this input.
    Decoding(SymphoniaReader, Header),
    /// Symphonia cannot read it; the error says why, in case no other backend can either.
    Declined(DecodeError),
}

/// Probes `source` by its content alone and prepares a decoder for its default audio track.
pub(super) fn open(source: Box<dyn MediaSource>) -> Result<Opened, DecodeError> {
    contained(|| open_contained(source))
}

fn open_contained(source: Box<dyn MediaSource>) -> Result<Opened, DecodeError> {
    let stream = MediaSourceStream::new(source, Default::default());
    let options = FormatOptions::default();
    let format = match get_probe().probe(&Hint::new(), stream, options, MetadataOptions::default())
    {
        Ok(format) => format,
        Err(Error::IoError(error)) if error.kind() != ErrorKind::UnexpectedEof => {
            return Err(DecodeError::Io(error));
        }
        Err(Error::IoError(_) | Error::Unsupported(_)) => {
            return Ok(Opened::Declined(DecodeError::Unrecognised));
        }
        Err(other) => return Ok(Opened::Declined(corrupt(&other))),
    };
    let Some((track, params)) = audio_track(format.as_ref()) else {
        return Ok(Opened::Declined(DecodeError::NoAudioTrack));
    };
    let decoder = match get_codecs().make_audio_decoder(&params, &AudioDecoderOptions::default()) {
        Ok(decoder) => decoder,
        Err(Error::Unsupported(_)) => {
            let codec = DecodeError::UnsupportedCodec(params.codec.to_string());
            return Ok(Opened::Declined(codec));
        }
        Err(other) => return Ok(Opened::Declined(corrupt(&other))),
    };
    let header = header(format.as_ref(), decoder.as_ref(), &track, &params);
    let reader = SymphoniaReader {
        format,
        decoder,
        track_id: track.id,
        ints: Vec::new(),
        floats: Vec::new(),
    };
    Ok(Opened::Decoding(reader, header))
}

fn audio_track(format: &dyn FormatReader) -> Option<(Track, AudioCodecParameters)> {
    let track = format.default_track(TrackType::Audio)?;
    match &track.codec_params {
        Some(CodecParameters::Audio(params)) => Some((track.clone(), params.clone())),
        _ => None,
    }
}

fn header(
    format: &dyn FormatReader,
    decoder: &dyn AudioDecoder,
    track: &Track,
    params: &AudioCodecParameters,
) -> Header {
    let duration = match (track.num_frames, params.sample_rate) {
        (Some(frames), Some(rate)) if rate > 0 => {
            Some(Duration::from_secs_f64(frames as f64 / f64::from(rate)))
        }
        _ => None,
    };
    Header {
        container: Container::from_demuxer(format.format_info().short_name),
        codec: Codec::from_decoder(decoder.codec_info().short_name),
        duration,
        declared_frames: track.num_frames,
        backend: Backend::Symphonia,
    }
}

impl SymphoniaReader {
    /// Fills `block` with the next packet that decodes to any frames; `false` at the end.
    pub(super) fn read_block(
        &mut self,
        block: &mut PcmBlock,
        first_frame: u64,
    ) -> Result<bool, DecodeError> {
        contained(|| self.read_block_contained(block, first_frame))
    }

    fn read_block_contained(
        &mut self,
        block: &mut PcmBlock,
        first_frame: u64,
    ) -> Result<bool, DecodeError> {
        loop {
            let Some(packet) = self.next_packet()? else {
                return Ok(false);
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let buffer = self
                .decoder
                .decode(&packet)
                .map_err(|e| decode_failure(&e))?;
            if buffer.frames() == 0 {
                continue;
            }
            let channels = u32::try_from(buffer.spec().channels().count()).unwrap_or(u32::MAX);
            block.reset(format_of(buffer.spec().rate(), channels)?, first_frame);
            fill(block, &buffer, &mut self.ints, &mut self.floats);
            return Ok(true);
        }
    }

    fn next_packet(&mut self) -> Result<Option<symphonia::core::packet::Packet>, DecodeError> {
        match self.format.next_packet() {
            Ok(packet) => Ok(packet),
            // Demuxers report a stream cut inside a packet this way; the frame count check
            // at the end tells a clean end from a truncated one.
            Err(Error::IoError(error)) if error.kind() == ErrorKind::UnexpectedEof => Ok(None),
            Err(Error::IoError(error)) => Err(DecodeError::Io(error)),
            Err(Error::ResetRequired) => Err(DecodeError::StreamRestart),
            Err(other) => Err(corrupt(&other)),
        }
    }
}

fn fill(
    block: &mut PcmBlock,
    buffer: &GenericAudioBufferRef<'_>,
    ints: &mut Vec<i32>,
    floats: &mut Vec<f32>,
) {
    match buffer {
        GenericAudioBufferRef::F32(_) | GenericAudioBufferRef::F64(_) => {
            buffer.copy_to_vec_interleaved(floats);
            block.extend_float(floats);
        }
        _ => {
            // Widening to full-scale `i32` is exact for every integer width, so the 16-bit
            // view keeps the same top bits libsndfile keeps.
            buffer.copy_to_vec_interleaved(ints);
            block.extend_int(ints.iter().copied());
        }
    }
}

/// Runs a step of symphonia's, turning a panic inside it into corrupt audio: its parsers
/// have panicked on crafted input (a WAV channel mask that overflows a shift), and one
/// malformed upload must fail as `corrupt_audio`, not take its worker thread with it. The
/// reader is not used again after an error.
fn contained<T>(step: impl FnOnce() -> Result<T, DecodeError>) -> Result<T, DecodeError> {
    catch_unwind(AssertUnwindSafe(step)).unwrap_or_else(|_| {
        Err(DecodeError::Corrupt(
            "the decoder gave up on malformed data".to_owned(),
        ))
    })
}

fn decode_failure(error: &Error) -> DecodeError {
    match error {
        Error::Unsupported(feature) => DecodeError::UnsupportedCodec((*feature).to_owned()),
        other => corrupt(other),
    }
}

fn corrupt(error: &Error) -> DecodeError {
    DecodeError::Corrupt(error.to_string())
}
