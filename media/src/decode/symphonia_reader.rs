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
use symphonia::core::packet::Packet;
use symphonia::default::{get_codecs, get_probe};

use super::block::PcmBlock;
use super::decode_pool::DecodePool;
use super::error::DecodeError;
use super::format_of;
use super::probe::{Backend, Codec, Container, Header};

/// An open input that symphonia decodes.
pub(super) struct SymphoniaReader {
    format: Box<dyn FormatReader>,
    track_id: u32,
    decoding: Decoding,
}

/// Where packets are decoded.
enum Decoding {
    /// On the calling thread, one at a time.
    Here {
        decoder: Box<dyn AudioDecoder>,
        scratch: DecodeScratch,
    },
    /// On decoding threads, a few packets ahead (codecs whose packets decode on their own).
    Pool {
        pool: DecodePool,
        /// How demuxing ended, reported once the blocks before it are handed out.
        ended: Option<Result<(), DecodeError>>,
    },
}

/// Buffers a decoder's output is copied through on its way into a block.
#[derive(Default)]
pub(super) struct DecodeScratch {
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
    let pool = match header.codec {
        Codec::Flac | Codec::Pcm => DecodePool::start(&params)?,
        _ => None,
    };
    let decoding = match pool {
        Some(pool) => Decoding::Pool { pool, ended: None },
        None => Decoding::Here {
            decoder,
            scratch: DecodeScratch::default(),
        },
    };
    let reader = SymphoniaReader {
        format,
        track_id: track.id,
        decoding,
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
        match &mut self.decoding {
            Decoding::Here { decoder, scratch } => loop {
                let Some(packet) = next_packet(self.format.as_mut(), self.track_id)? else {
                    return Ok(false);
                };
                if scratch.decode(decoder.as_mut(), &packet, block, first_frame)? {
                    return Ok(true);
                }
            },
            Decoding::Pool { pool, ended } => loop {
                while ended.is_none() && pool.has_room() {
                    match next_packet(self.format.as_mut(), self.track_id) {
                        Ok(Some(packet)) => pool.send(packet, block)?,
                        Ok(None) => *ended = Some(Ok(())),
                        Err(error) => *ended = Some(Err(error)),
                    }
                }
                if !pool.is_busy() {
                    return ended.take().unwrap_or(Ok(())).map(|()| false);
                }
                pool.receive(block)?;
                if block.frames() > 0 {
                    block.set_first_frame(first_frame);
                    return Ok(true);
                }
            },
        }
    }
}

/// The next packet of track `track_id`; `None` at the end.
fn next_packet(
    format: &mut dyn FormatReader,
    track_id: u32,
) -> Result<Option<Packet>, DecodeError> {
    loop {
        match format.next_packet() {
            Ok(Some(packet)) if packet.track_id != track_id => continue,
            Ok(packet) => return Ok(packet),
            // Demuxers report a stream cut inside a packet this way; the frame count check
            // at the end tells a clean end from a truncated one.
            Err(Error::IoError(error)) if error.kind() == ErrorKind::UnexpectedEof => {
                return Ok(None);
            }
            Err(Error::IoError(error)) => return Err(DecodeError::Io(error)),
            Err(Error::ResetRequired) => return Err(DecodeError::StreamRestart),
            Err(other) => return Err(corrupt(&other)),
        }
    }
}

impl DecodeScratch {
    /// Decodes `packet` into `block`, placed at `first_frame`; `false` when it held no
    /// frames, which leaves `block` empty.
    pub(super) fn decode(
        &mut self,
        decoder: &mut dyn AudioDecoder,
        packet: &Packet,
        block: &mut PcmBlock,
        first_frame: u64,
    ) -> Result<bool, DecodeError> {
        let buffer = decoder.decode(packet).map_err(|e| decode_failure(&e))?;
        if buffer.frames() == 0 {
            block.reset(block.format(), first_frame);
            return Ok(false);
        }
        let channels = u32::try_from(buffer.spec().channels().count()).unwrap_or(u32::MAX);
        block.reset(format_of(buffer.spec().rate(), channels)?, first_frame);
        match buffer {
            GenericAudioBufferRef::F32(_) | GenericAudioBufferRef::F64(_) => {
                buffer.copy_to_vec_interleaved(&mut self.floats);
                block.extend_float(&self.floats);
            }
            _ => {
                // Widening to full-scale `i32` is exact for every integer width, so the
                // 16-bit view keeps the same top bits libsndfile keeps.
                buffer.copy_to_vec_interleaved(&mut self.ints);
                block.extend_int(self.ints.iter().copied());
            }
        }
        Ok(true)
    }
}

/// Runs a step of symphonia's, turning a panic inside it into corrupt audio: its parsers
/// have panicked on crafted input (a WAV channel mask that overflows a shift), and one
/// malformed upload must fail as `corrupt_audio`, not take its worker thread with it. The
/// reader is not used again after an error.
pub(super) fn contained<T>(
    step: impl FnOnce() -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
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

pub(super) fn corrupt(error: &Error) -> DecodeError {
    DecodeError::Corrupt(error.to_string())
}
