//! audiowaveform's binary `.dat` format, read and written byte for byte.
//!
//! Little-endian throughout. Header: `i32` version (1 for one channel, 2 otherwise),
//! `u32` flags (bit 0 set for 8-bit data), `i32` sample rate, `i32` samples per pixel,
//! `u32` length in pixels, and for version 2 only an `i32` channel count. Then, pixel
//! by pixel and channel by channel, a min and a max as `i8` or `i16`.

use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};

use thiserror::Error;

use super::options::{Bits, InvalidOption, SamplesPerPixel};
use super::peaks::{MinMax, Peaks, PeaksError};
use crate::format::{ChannelCount, SampleRate};

/// Flag bit marking 8-bit data.
const EIGHT_BIT: u32 = 1;

/// A `.dat` that cannot be written or read.
#[derive(Debug, Error)]
pub enum DatError {
    /// The reader failed.
    #[error("waveform data I/O failed")]
    Io(#[from] io::Error),
    /// A version other than 1 or 2.
    #[error("unsupported waveform data version {0}")]
    Version(i32),
    /// A header field out of range.
    #[error("invalid waveform data header: {0}")]
    Header(#[from] InvalidOption),
    /// Fewer data bytes than the header promises.
    #[error("waveform data ends after {found} of {expected} bytes")]
    Truncated {
        /// Bytes promised.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// More pixels than the `u32` length field holds.
    #[error("{0} pixels do not fit a waveform data header")]
    TooLong(u64),
    /// Pairs that do not form whole pixels.
    #[error(transparent)]
    Peaks(#[from] PeaksError),
}

/// A decoded `.dat`: the peaks, held at 16 bits, and the resolution the file stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatFile {
    /// Peaks; 8-bit values come back multiplied by 256.
    pub peaks: Peaks,
    /// Resolution found in the flags.
    pub bits: Bits,
}

/// Offset of the `length` field, patched once the pixel count is known.
const LENGTH_OFFSET: u64 = 16;

/// Encodes `peaks` at `bits`, exactly as audiowaveform writes them.
pub fn encode_dat(peaks: &Peaks, bits: Bits) -> Result<Vec<u8>, DatError> {
    let layout = DatLayout {
        sample_rate: peaks.sample_rate(),
        samples_per_pixel: peaks.samples_per_pixel(),
        channels: peaks.channels(),
        bits,
    };
    let data_bytes = peaks.pairs().len() * 2 * usize::from(value_bytes(bits));
    let out = Cursor::new(Vec::with_capacity(24 + data_bytes));
    let mut writer = DatWriter::new(out, layout)?;
    writer.write_pairs(peaks.pairs())?;
    Ok(writer.finish()?.into_inner())
}

/// The header fields of a `.dat` other than its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatLayout {
    /// Sample rate of the source audio.
    pub sample_rate: SampleRate,
    /// Frames behind each pixel.
    pub samples_per_pixel: SamplesPerPixel,
    /// Waveform channels.
    pub channels: ChannelCount,
    /// Stored resolution.
    pub bits: Bits,
}

/// Writes a `.dat` as pairs arrive, so peaks never need to be held whole; the length in
/// the header is patched when finished, hence the `Seek`.
#[derive(Debug)]
pub struct DatWriter<W: Write + Seek> {
    out: W,
    layout: DatLayout,
    pairs: u64,
}

impl<W: Write + Seek> DatWriter<W> {
    /// Writes the header with a length of 0, to be patched by [`DatWriter::finish`].
    pub fn new(mut out: W, layout: DatLayout) -> Result<Self, DatError> {
        let channels = layout.channels.get();
        let version: i32 = if channels == 1 { 1 } else { 2 };
        let flags = if layout.bits == Bits::Eight {
            EIGHT_BIT
        } else {
            0
        };
        out.write_all(&version.to_le_bytes())?;
        out.write_all(&flags.to_le_bytes())?;
        out.write_all(&layout.sample_rate.hz().to_le_bytes())?;
        out.write_all(&layout.samples_per_pixel.get().to_le_bytes())?;
        out.write_all(&0_u32.to_le_bytes())?;
        if version == 2 {
            out.write_all(&u32::from(channels).to_le_bytes())?;
        }
        Ok(Self {
            out,
            layout,
            pairs: 0,
        })
    }

    /// Appends pairs, pixel by pixel with channels interleaved.
    pub fn write_pairs(&mut self, pairs: &[MinMax]) -> Result<(), DatError> {
        let mut bytes = Vec::with_capacity(pairs.len() * 4);
        for pair in pairs {
            push_value(&mut bytes, pair.min, self.layout.bits);
            push_value(&mut bytes, pair.max, self.layout.bits);
        }
        self.out.write_all(&bytes)?;
        self.pairs += pairs.len() as u64;
        Ok(())
    }

    /// Patches the length into the header and hands the output back, positioned at its end.
    pub fn finish(mut self) -> Result<W, DatError> {
        let pixels = self.pairs / u64::from(self.layout.channels.get());
        let length = u32::try_from(pixels).map_err(|_| DatError::TooLong(pixels))?;
        let end = self.out.stream_position()?;
        self.out.seek(SeekFrom::Start(LENGTH_OFFSET))?;
        self.out.write_all(&length.to_le_bytes())?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn push_value(out: &mut Vec<u8>, value: i16, bits: Bits) {
    match bits {
        Bits::Eight => out.extend_from_slice(&to_eight_bit(value).to_le_bytes()),
        Bits::Sixteen => out.extend_from_slice(&value.to_le_bytes()),
    }
}

/// 16-bit value to 8-bit: divided by 256, truncated toward zero (so -255 ..= 255 become 0).
pub fn to_eight_bit(value: i16) -> i8 {
    // `i16::MIN / 256` is -128 and `i16::MAX / 256` is 127: always in range.
    i8::try_from(value / 256).unwrap_or(0)
}

/// Reads a version 1 or 2 `.dat`; 8-bit values are widened by multiplying by 256.
pub fn decode_dat(mut reader: impl Read) -> Result<DatFile, DatError> {
    let version = read_i32(&mut reader)?;
    if version != 1 && version != 2 {
        return Err(DatError::Version(version));
    }
    let flags = read_u32(&mut reader)?;
    let sample_rate = SampleRate::try_from(read_i32(&mut reader)?).map_err(InvalidOption::from)?;
    let samples_per_pixel = SamplesPerPixel::new(i64::from(read_i32(&mut reader)?))?;
    let length = read_u32(&mut reader)?;
    let channels = match version {
        1 => ChannelCount::MONO,
        _ => ChannelCount::try_from(read_i32(&mut reader)?).map_err(InvalidOption::from)?,
    };
    let bits = if flags & EIGHT_BIT == 0 {
        Bits::Sixteen
    } else {
        Bits::Eight
    };
    let pairs = read_pairs(reader, u64::from(length) * u64::from(channels.get()), bits)?;
    let peaks = Peaks::new(sample_rate, samples_per_pixel, channels, pairs)?;
    Ok(DatFile { peaks, bits })
}

fn read_pairs(reader: impl Read, count: u64, bits: Bits) -> Result<Vec<MinMax>, DatError> {
    let expected = count * 2 * u64::from(value_bytes(bits));
    // Reading through `take` grows the buffer with the data actually present, so a
    // header that lies about its length cannot make us allocate for it.
    let mut bytes = Vec::new();
    reader.take(expected).read_to_end(&mut bytes)?;
    let found = bytes.len() as u64;
    if found != expected {
        return Err(DatError::Truncated { expected, found });
    }
    let values: Vec<i16> = match bits {
        Bits::Eight => bytes.iter().map(|&byte| from_eight_bit(byte)).collect(),
        Bits::Sixteen => bytes
            .chunks_exact(2)
            .map(|raw| i16::from_le_bytes([raw[0], raw[1]]))
            .collect(),
    };
    let pairs = values.chunks_exact(2).map(|v| MinMax {
        min: v[0],
        max: v[1],
    });
    Ok(pairs.collect())
}

fn from_eight_bit(byte: u8) -> i16 {
    i16::from(i8::from_le_bytes([byte])) * 256
}

fn value_bytes(bits: Bits) -> u8 {
    bits.get() / 8
}

fn read_i32(reader: &mut impl Read) -> io::Result<i32> {
    let mut raw = [0; 4];
    reader.read_exact(&mut raw)?;
    Ok(i32::from_le_bytes(raw))
}

fn read_u32(reader: &mut impl Read) -> io::Result<u32> {
    let mut raw = [0; 4];
    reader.read_exact(&mut raw)?;
    Ok(u32::from_le_bytes(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peaks(channels: u16, pairs: &[(i16, i16)]) -> Peaks {
        let pairs = pairs
            .iter()
            .map(|&(min, max)| MinMax { min, max })
            .collect();
        let rate = SampleRate::new(44100).expect("rate");
        let channels = ChannelCount::new(channels).expect("channels");
        let spp = SamplesPerPixel::new(256).expect("spp");
        Peaks::new(rate, spp, channels, pairs).expect("peaks")
    }

    #[test]
    fn eight_bit_conversion_truncates_negative_values_toward_zero() {
        assert_eq!(to_eight_bit(-1), 0);
        assert_eq!(to_eight_bit(-255), 0);
        assert_eq!(to_eight_bit(-256), -1);
        assert_eq!(to_eight_bit(-257), -1);
        assert_eq!(to_eight_bit(255), 0);
        assert_eq!(to_eight_bit(i16::MIN), -128);
        assert_eq!(to_eight_bit(i16::MAX), 127);
    }

    #[test]
    fn one_channel_is_written_as_version_1_with_a_20_byte_header() {
        let bytes = encode_dat(&peaks(1, &[(-300, 300)]), Bits::Eight).expect("encodes");
        let expected = [
            1, 0, 0, 0, // version
            1, 0, 0, 0, // flags: 8-bit
            0x44, 0xAC, 0, 0, // 44100 Hz
            0, 1, 0, 0, // 256 samples per pixel
            1, 0, 0, 0, // 1 pixel
            0xFF, 1, // -1, 1
        ];
        assert_eq!(bytes, expected);
    }

    #[test]
    fn several_channels_are_written_as_version_2_with_a_channel_count() {
        let bytes = encode_dat(&peaks(2, &[(-2, 3), (-4, 5)]), Bits::Sixteen).expect("encodes");
        assert_eq!(bytes[..8], [2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(bytes[20..24], [2, 0, 0, 0]);
        assert_eq!(bytes[24..], [0xFE, 0xFF, 3, 0, 0xFC, 0xFF, 5, 0]);
    }

    #[test]
    fn eight_bit_data_reads_back_multiplied_by_256() {
        let bytes = encode_dat(&peaks(1, &[(-300, 300)]), Bits::Eight).expect("encodes");
        let decoded = decode_dat(bytes.as_slice()).expect("decodes");
        assert_eq!(decoded.bits, Bits::Eight);
        assert_eq!(
            decoded.peaks.pairs(),
            &[MinMax {
                min: -256,
                max: 256
            }]
        );
    }

    #[test]
    fn sixteen_bit_data_round_trips_unchanged() {
        let original = peaks(2, &[(i16::MIN, i16::MAX), (-1, 0)]);
        let bytes = encode_dat(&original, Bits::Sixteen).expect("encodes");
        assert_eq!(
            decode_dat(bytes.as_slice()).expect("decodes").peaks,
            original
        );
    }

    #[test]
    fn data_shorter_than_the_header_promises_is_refused() {
        let mut bytes = encode_dat(&peaks(1, &[(1, 2), (3, 4)]), Bits::Sixteen).expect("encodes");
        bytes.truncate(bytes.len() - 1);
        let error = decode_dat(bytes.as_slice()).expect_err("truncated");
        assert!(
            matches!(
                error,
                DatError::Truncated {
                    expected: 8,
                    found: 7
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_version_is_refused() {
        let mut bytes = encode_dat(&peaks(1, &[]), Bits::Sixteen).expect("encodes");
        bytes[0] = 3;
        assert!(matches!(
            decode_dat(bytes.as_slice()),
            Err(DatError::Version(3))
        ));
    }

    #[test]
    fn a_header_with_fewer_than_two_samples_per_pixel_is_refused() {
        let mut bytes = encode_dat(&peaks(1, &[]), Bits::Sixteen).expect("encodes");
        bytes[12..16].copy_from_slice(&1_i32.to_le_bytes());
        let error = decode_dat(bytes.as_slice()).expect_err("bad zoom");
        assert!(
            matches!(error, DatError::Header(InvalidOption::SamplesPerPixel(1))),
            "{error}"
        );
    }
}
