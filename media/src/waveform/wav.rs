//! WAV input over any `Read`, streamed as the 16-bit samples audiowaveform would see.

use std::io::Read;

use hound::{SampleFormat, WavReader};
use thiserror::Error;

use super::generator::PeaksBuilder;
use super::options::{InvalidOption, WaveformOptions};
use super::pcm;
use super::peaks::Peaks;
use crate::format::{AudioFormat, ChannelCount, SampleRate};

/// Samples read per chunk: enough to amortise calls, small enough to stay in cache.
const CHUNK_SAMPLES: usize = 16 * 1024;

/// A WAV stream that cannot become peaks.
#[derive(Debug, Error)]
pub enum WavError {
    /// The WAV decoder failed.
    #[error("cannot read WAV: {0}")]
    Decode(#[from] hound::Error),
    /// The header names a rate, channel count or zoom out of range.
    #[error("unusable WAV: {0}")]
    Format(#[from] InvalidOption),
    /// A sample encoding with no 16-bit conversion.
    #[error("unsupported WAV sample format: {bits}-bit {kind}")]
    Unsupported {
        /// Bits per sample.
        bits: u16,
        /// "integer" or "float".
        kind: &'static str,
    },
}

#[derive(Debug, Clone, Copy)]
enum Encoding {
    Int(u16),
    Float,
}

/// Reads a WAV stream chunk by chunk as interleaved 16-bit samples.
pub struct WavSamples<R: Read> {
    reader: WavReader<R>,
    format: AudioFormat,
    encoding: Encoding,
}

impl<R: Read> WavSamples<R> {
    /// Reads the header; fails on encodings other than 8/16/24/32-bit integer or 32-bit float.
    pub fn new(input: R) -> Result<Self, WavError> {
        let reader = WavReader::new(input)?;
        let spec = reader.spec();
        let encoding = match (spec.sample_format, spec.bits_per_sample) {
            (SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => Encoding::Int(bits),
            (SampleFormat::Float, 32) => Encoding::Float,
            (SampleFormat::Int, bits) => {
                return Err(WavError::Unsupported {
                    bits,
                    kind: "integer",
                });
            }
            (SampleFormat::Float, bits) => {
                return Err(WavError::Unsupported {
                    bits,
                    kind: "float",
                });
            }
        };
        let format = AudioFormat {
            sample_rate: SampleRate::new(spec.sample_rate).map_err(InvalidOption::from)?,
            channels: ChannelCount::new(spec.channels).map_err(InvalidOption::from)?,
        };
        Ok(Self {
            reader,
            format,
            encoding,
        })
    }

    /// Rate and channels from the header.
    pub fn format(&self) -> AudioFormat {
        self.format
    }

    /// Replaces `out` with up to `max` further samples; leaves it empty at the end.
    pub fn read_chunk(&mut self, out: &mut Vec<i16>, max: usize) -> Result<(), WavError> {
        out.clear();
        match self.encoding {
            Encoding::Int(bits) => {
                for sample in self.reader.samples::<i32>().take(max) {
                    out.push(pcm::from_int(sample?, bits));
                }
            }
            Encoding::Float => {
                for sample in self.reader.samples::<f32>().take(max) {
                    out.push(pcm::from_f32(sample?));
                }
            }
        }
        Ok(())
    }
}

/// Peaks of a whole WAV stream, read in chunks so memory does not grow with the audio.
pub fn peaks_from_wav(input: impl Read, options: &WaveformOptions) -> Result<Peaks, WavError> {
    let mut samples = WavSamples::new(input)?;
    let mut builder = PeaksBuilder::new(samples.format(), options)?;
    let mut chunk = Vec::with_capacity(CHUNK_SAMPLES);
    loop {
        samples.read_chunk(&mut chunk, CHUNK_SAMPLES)?;
        if chunk.is_empty() {
            return Ok(builder.finish());
        }
        builder.push(&chunk);
    }
}
