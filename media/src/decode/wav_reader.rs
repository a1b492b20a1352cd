//! Mixdown's own reader of integer PCM WAV: samples go from the file's bytes straight
//! into a block, with no codec, packet or planar buffer in between. WAV is the most common
//! lossless upload and the cheapest input there is; through a general decoder its samples
//! were copied three times before a peak was drawn.
//!
//! It takes only the plainest files — a RIFF/WAVE whose `fmt ` chunk says integer PCM
//! (format 1, or extensible with the PCM sub-format and every bit valid) at 8, 16, 24 or
//! 32 bits with a consistent block size, and a `data` chunk of written size that lies
//! inside the RIFF chunk — and declines the rest, which symphonia then opens as before
//! (and refuses, when malformed, with the same errors as before). Samples are widened to
//! full-scale `i32` exactly as symphonia widens them, so blocks are the same either way.

use std::io::{self, Read, Seek, SeekFrom};
use std::time::Duration;

use symphonia::core::io::MediaSource;

use super::block::PcmBlock;
use super::error::DecodeError;
use super::format_of;
use super::probe::{Backend, Codec, Container, Header};
use crate::format::AudioFormat;

/// Frames read per block: small enough to stay in cache, large enough that a read costs
/// nothing per sample.
const BLOCK_FRAMES: usize = 4096;

/// Chunks looked at before the `data` chunk: past this the file is not a plain one.
const MAX_CHUNKS: usize = 64;

/// `fmt ` chunks larger than this are not plain PCM.
const MAX_FMT_BYTES: u32 = 64;

/// Format tags of the `fmt ` chunk.
const FORMAT_PCM: u16 = 1;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// The sub-format GUID of extensible PCM after its leading format tag.
const PCM_GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// A size field a streaming writer leaves when it cannot seek back.
const UNKNOWN_SIZE: u32 = u32::MAX;

/// How one sample is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    /// Unsigned, centred on 128.
    U8,
    I16,
    I24,
    I32,
}

impl Width {
    fn from_bits(bits: u16) -> Option<Self> {
        match bits {
            8 => Some(Self::U8),
            16 => Some(Self::I16),
            24 => Some(Self::I24),
            32 => Some(Self::I32),
            _ => None,
        }
    }

    fn bytes(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::I16 => 2,
            Self::I24 => 3,
            Self::I32 => 4,
        }
    }
}

/// An open PCM WAV, positioned in its `data` chunk.
pub(super) struct WavReader {
    source: Box<dyn MediaSource>,
    format: AudioFormat,
    width: Width,
    frame_bytes: usize,
    /// Bytes of the `data` chunk not read yet.
    remaining: u64,
    bytes: Vec<u8>,
}

/// What the `fmt ` chunk says, once found plain.
struct Layout {
    format: AudioFormat,
    width: Width,
    frame_bytes: usize,
}

/// How opening went.
pub(super) enum Opened {
    /// A plain PCM WAV, read from here on.
    Reading(WavReader, Header),
    /// Anything else: the source, back at its first byte, for the next backend.
    Declined(Box<dyn MediaSource>),
}

/// Opens `source` when it is a plain PCM WAV, and hands it back when it is anything else.
pub(super) fn open(mut source: Box<dyn MediaSource>) -> Result<Opened, DecodeError> {
    match find_data(&mut source)? {
        Some((layout, data_bytes)) => {
            let frames = data_bytes / layout.frame_bytes as u64;
            let rate = f64::from(layout.format.sample_rate.hz());
            let header = Header {
                container: Container::Wav,
                codec: Codec::Pcm,
                duration: Some(Duration::from_secs_f64(frames as f64 / rate)),
                declared_frames: Some(frames),
                backend: Backend::Wav,
            };
            let reader = WavReader {
                source,
                format: layout.format,
                width: layout.width,
                frame_bytes: layout.frame_bytes,
                remaining: data_bytes,
                bytes: Vec::with_capacity(BLOCK_FRAMES * layout.frame_bytes),
            };
            Ok(Opened::Reading(reader, header))
        }
        None => {
            source.seek(SeekFrom::Start(0))?;
            Ok(Opened::Declined(source))
        }
    }
}

/// Walks the chunks up to `data`: its layout and size, leaving `source` at its first byte;
/// `None` when the file is not a plain PCM WAV.
fn find_data(source: &mut Box<dyn MediaSource>) -> io::Result<Option<(Layout, u64)>> {
    let mut riff = [0_u8; 12];
    if read_full(source, &mut riff)? < riff.len() || &riff[..4] != b"RIFF" || &riff[8..] != b"WAVE"
    {
        return Ok(None);
    }
    let riff_size = u32::from_le_bytes([riff[4], riff[5], riff[6], riff[7]]);
    if riff_size == UNKNOWN_SIZE {
        return Ok(None);
    }
    let riff_end = 8 + u64::from(riff_size);
    let mut position = riff.len() as u64;
    let mut layout = None;
    for _ in 0..MAX_CHUNKS {
        let mut head = [0_u8; 8];
        if read_full(source, &mut head)? < head.len() {
            return Ok(None);
        }
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let body = position + head.len() as u64;
        match &head[..4] {
            b"fmt " if layout.is_none() && size <= MAX_FMT_BYTES => {
                let mut fmt = vec![0; size as usize];
                if read_full(source, &mut fmt)? < fmt.len() {
                    return Ok(None);
                }
                match layout_of(&fmt) {
                    Some(found) => layout = Some(found),
                    None => return Ok(None),
                }
            }
            b"fmt " => return Ok(None),
            b"data" => {
                let written = size != 0 && size != UNKNOWN_SIZE;
                return Ok(match layout {
                    Some(layout) if written && body + u64::from(size) <= riff_end => {
                        Some((layout, u64::from(size)))
                    }
                    _ => None,
                });
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        position = body + u64::from(size) + u64::from(size & 1);
        if position > riff_end {
            return Ok(None);
        }
        source.seek(SeekFrom::Start(position))?;
    }
    Ok(None)
}

impl WavReader {
    /// Fills `block` with the next frames; `false` at the end of the data (or of the file,
    /// when it is cut short: the decoder's frame count check tells).
    pub(super) fn read_block(
        &mut self,
        block: &mut PcmBlock,
        first_frame: u64,
    ) -> Result<bool, DecodeError> {
        let want = self.remaining.min((BLOCK_FRAMES * self.frame_bytes) as u64) as usize;
        self.bytes.resize(want, 0);
        let got = read_full(&mut self.source, &mut self.bytes)?;
        if got < want {
            // The file ends inside the chunk.
            self.remaining = 0;
        } else {
            self.remaining -= got as u64;
        }
        let whole = got / self.frame_bytes * self.frame_bytes;
        if whole == 0 {
            return Ok(false);
        }
        block.reset(self.format, first_frame);
        let bytes = &self.bytes[..whole];
        match self.width {
            Width::U8 => block.extend_int(bytes.iter().map(|&b| (i32::from(b) - 128) << 24)),
            Width::I16 => block.extend_int(
                bytes
                    .chunks_exact(2)
                    .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])) << 16),
            ),
            Width::I24 => block.extend_int(
                bytes
                    .chunks_exact(3)
                    .map(|b| i32::from_le_bytes([0, b[0], b[1], b[2]])),
            ),
            Width::I32 => block.extend_int(
                bytes
                    .chunks_exact(4)
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
        }
        Ok(true)
    }
}

/// Reads until `buf` is full or the source ends; how many bytes came.
fn read_full(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Parses a `fmt ` chunk's bytes; `None` unless it is plain integer PCM.
fn layout_of(fmt: &[u8]) -> Option<Layout> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(fmt.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(fmt.get(at..at + 4)?.try_into().ok()?));
    let tag = u16_at(0)?;
    let channels = u16_at(2)?;
    let rate = u32_at(4)?;
    let block_align = u16_at(12)?;
    let bits = u16_at(14)?;
    let plain = match tag {
        FORMAT_PCM => true,
        FORMAT_EXTENSIBLE => {
            u16_at(18)? == bits
                && u16_at(24)? == FORMAT_PCM
                && fmt.get(26..40)? == PCM_GUID_TAIL.as_slice()
        }
        _ => false,
    };
    if !plain {
        return None;
    }
    let width = Width::from_bits(bits)?;
    let format = format_of(rate, u32::from(channels)).ok()?;
    let frame_bytes = width.bytes() * usize::from(channels);
    (usize::from(block_align) == frame_bytes).then_some(Layout {
        format,
        width,
        frame_bytes,
    })
}
