//! The FFmpeg backend, through ffmpeg-next's safe API, for what symphonia cannot read:
//! Opus, and containers or codecs symphonia does not know.

use std::io;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use ffmpeg_next::Dictionary;
use ffmpeg_next::error::{EAGAIN, EINVAL};
use ffmpeg_next::format::{Sample, sample::Type};
use ffmpeg_next::frame::audio::Sample as FrameSample;
use ffmpeg_next::{Error, Packet, codec, decoder, format, frame, log, media};

use super::block::PcmBlock;
use super::error::DecodeError;
use super::format_of;
use super::probe::{Backend, Codec, Container, Header};

/// The demuxers FFmpeg may use: the audio containers Mixdown supports, by FFmpeg's names
/// (`mov` is MP4/M4A, `matroska` is WebM too). Left to itself FFmpeg tries every demuxer
/// it has, playlists among them, and an HLS or concat playlist uploaded as audio would
/// make it read whatever files on the worker's disk the playlist names.
const DEMUXERS: &str = "wav,aiff,mp3,aac,mov,ogg,flac,matroska";

/// The one input is a local file, and nothing it names may be opened by any other way.
const PROTOCOLS: &str = "file";

/// FFmpeg's `AV_TIME_BASE`: the unit of a whole input's duration.
const MICROSECONDS: f64 = 1_000_000.0;

/// An open input that FFmpeg decodes.
pub(super) struct FfmpegReader {
    input: format::context::Input,
    decoder: decoder::Audio,
    stream: usize,
    frame: frame::Audio,
}

/// Initialises FFmpeg once per process, with its own logging silenced.
pub(crate) fn init() -> Result<(), DecodeError> {
    static INIT: OnceLock<Result<(), Error>> = OnceLock::new();
    let result = INIT.get_or_init(|| {
        // Every problem reaches the caller as an error value; FFmpeg's own stderr lines
        // would only duplicate them outside the caller's logging.
        log::set_level(log::Level::Quiet);
        ffmpeg_next::init()
    });
    result.map_err(|error| DecodeError::Io(io::Error::other(error)))
}

/// Opens the file at `path` (its name must carry no extension, so that FFmpeg probes the
/// content alone) and prepares a decoder for its best audio stream.
pub(super) fn open(path: &Path) -> Result<(FfmpegReader, Header), DecodeError> {
    init()?;
    let mut options = Dictionary::new();
    options.set("format_whitelist", DEMUXERS);
    options.set("protocol_whitelist", PROTOCOLS);
    let input = format::input_with_dictionary(path, options).map_err(open_failure)?;
    let stream = input
        .streams()
        .best(media::Type::Audio)
        .ok_or(DecodeError::NoAudioTrack)?;
    let index = stream.index();
    let parameters = stream.parameters();
    let codec_name = parameters.id().name();
    let context = codec::Context::from_parameters(parameters).map_err(corrupt)?;
    let decoder = context.decoder().audio().map_err(|error| match error {
        Error::DecoderNotFound => DecodeError::UnsupportedCodec(codec_name.to_owned()),
        other => corrupt(other),
    })?;
    let header = Header {
        container: Container::from_demuxer(input.format().name()),
        codec: Codec::from_decoder(codec_name),
        duration: duration(&input, &stream),
        // FFmpeg guesses durations from the bit rate where nothing is declared, which is too
        // loose to call a file truncated.
        declared_frames: None,
        backend: Backend::Ffmpeg,
    };
    let reader = FfmpegReader {
        input,
        decoder,
        stream: index,
        frame: frame::Audio::empty(),
    };
    Ok((reader, header))
}

fn duration(input: &format::context::Input, stream: &ffmpeg_next::Stream<'_>) -> Option<Duration> {
    let base = stream.time_base();
    let ticks = stream.duration();
    let seconds = if ticks > 0 && base.denominator() > 0 {
        ticks as f64 * f64::from(base.numerator()) / f64::from(base.denominator())
    } else if input.duration() > 0 {
        input.duration() as f64 / MICROSECONDS
    } else {
        return None;
    };
    Duration::try_from_secs_f64(seconds).ok()
}

fn open_failure(error: Error) -> DecodeError {
    match error {
        // What a demuxer outside the list found: FFmpeg refuses it as an invalid argument.
        Error::Other { errno: EINVAL } => DecodeError::Unrecognised,
        Error::Other { errno } => DecodeError::Io(io::Error::from_raw_os_error(errno)),
        _ => DecodeError::Unrecognised,
    }
}

fn corrupt(error: Error) -> DecodeError {
    DecodeError::Corrupt(error.to_string())
}

impl FfmpegReader {
    /// Fills `block` with the next decoded frame; `false` at the end.
    pub(super) fn read_block(
        &mut self,
        block: &mut PcmBlock,
        first_frame: u64,
    ) -> Result<bool, DecodeError> {
        loop {
            match self.decoder.receive_frame(&mut self.frame) {
                Ok(()) if self.frame.samples() == 0 => continue,
                Ok(()) => {
                    fill(block, &self.frame, first_frame)?;
                    return Ok(true);
                }
                Err(Error::Eof) => return Ok(false),
                Err(Error::Other { errno: EAGAIN }) => self.feed()?,
                Err(other) => return Err(corrupt(other)),
            }
        }
    }

    /// Sends the decoder the next packet of our stream, or the end of input.
    fn feed(&mut self) -> Result<(), DecodeError> {
        loop {
            // A packet per read: `av_read_frame` overwrites the packet it is given without
            // releasing the buffer it held, so a reused one leaked every packet's data
            // (300 MB over a 3-hour Opus file). Dropping it releases the buffer.
            let mut packet = Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) if packet.stream() == self.stream => {
                    return self.decoder.send_packet(&packet).map_err(corrupt);
                }
                Ok(()) => continue,
                Err(Error::Eof) => return self.decoder.send_eof().map_err(corrupt),
                Err(other) => return Err(corrupt(other)),
            }
        }
    }
}

fn fill(block: &mut PcmBlock, frame: &frame::Audio, first_frame: u64) -> Result<(), DecodeError> {
    block.reset(
        format_of(frame.rate(), u32::from(frame.channels()))?,
        first_frame,
    );
    match frame.format() {
        Sample::U8(layout) => {
            interleave(frame, layout, |s: u8| {
                block.push_int((i32::from(s) - 128) << 24)
            });
        }
        Sample::I16(layout) => {
            interleave(frame, layout, |s: i16| block.push_int(i32::from(s) << 16))
        }
        Sample::I32(layout) => interleave(frame, layout, |s: i32| block.push_int(s)),
        Sample::F32(layout) => interleave(frame, layout, |s: f32| block.push_float(s)),
        // libsndfile narrows doubles to floats first as well.
        Sample::F64(layout) => interleave(frame, layout, |s: f64| block.push_float(s as f32)),
        other => {
            let name = format!("{other:?} samples");
            return Err(DecodeError::UnsupportedCodec(name));
        }
    }
    Ok(())
}

/// Calls `push` with every sample of `frame` in interleaved order.
fn interleave<T: FrameSample + Copy>(frame: &frame::Audio, layout: Type, mut push: impl FnMut(T)) {
    if layout == Type::Packed {
        frame.plane::<T>(0).iter().for_each(|&sample| push(sample));
        return;
    }
    let planes: Vec<&[T]> = (0..usize::from(frame.channels()))
        .map(|channel| frame.plane::<T>(channel))
        .collect();
    for index in 0..frame.samples() {
        planes.iter().for_each(|plane| push(plane[index]));
    }
}
