//! Waveform peaks, byte for byte as BBC audiowaveform 1.10 makes them, so that peaks.js
//! and waveform-data.js read Mixdown's output exactly as they read audiowaveform's.
//!
//! # The algorithm
//!
//! * **Input.** Interleaved signed 16-bit frames. Other PCM is first reduced to 16 bits
//!   as libsndfile does for audiowaveform (see [`pcm`]): integers keep their top 16 bits
//!   (rounding toward negative infinity), floats become `(f32 sample * 32767)` truncated
//!   toward zero.
//! * **Mix-down.** Unless channels are split, each frame becomes one sample: the sum of
//!   its channels (in `i32`) divided by the channel count with integer division, which
//!   truncates toward zero, so `(-1 + 0) / 2 == 0` and `(-3 + 0) / 2 == -1`. With split
//!   channels every input channel keeps its own min/max.
//! * **Blocks.** Frames are taken `samples_per_pixel` at a time from the first frame;
//!   each block gives one min and one max per output channel (the lowest and highest
//!   sample in it). The last block may be shorter: if it holds at least one frame it still
//!   gives a pixel, from the frames it has; an empty one gives none. So the length is
//!   `ceil(frames / samples_per_pixel)`.
//! * **Zoom.** `--zoom N` is N frames per pixel; `--pixels-per-second P` is
//!   `sample_rate / P` in integer division; `--end E` (with `--start S`, `--width W`) is
//!   `trunc((E - S) * sample_rate) / W`. Fewer than 2 is refused. `--start` and `--end`
//!   only set the zoom: data is generated from all of the audio.
//! * **Amplitude scale.** A number given with `--amplitude-scale` does not touch generated
//!   data (only images); `auto` does, after all pixels exist: gain is
//!   `|min(32767 / highest, 32767 / lowest)|` over every channel (1 for a zero extreme),
//!   each value is multiplied, clamped to the `i16` range and truncated toward zero
//!   (see [`amplitude`]).
//! * **Bits.** Values are held at 16 bits. 8-bit output divides each by 256 with
//!   truncation toward zero: -255 ..= 255 become 0, -256 becomes -1, -32768 becomes -128.
//!   Reading 8-bit data multiplies by 256.
//! * **Output.** See [`dat`] for the binary layout (version 1 for one channel, 2 for more)
//!   and [`json`] for the text (always version 2).
//!
//! # Compressed input
//!
//! Samples come from [`crate::decode`]; each block carries the 16-bit view above. For WAV,
//! AIFF and FLAC (integer PCM) that view is exact, so FLAC peaks equal, value for value,
//! the peaks of the WAV that `ffmpeg -i x.flac x.wav` writes. Lossy codecs decode to
//! floats, which take the float rule above (`x * 32767`, truncated), while FFmpeg's WAV
//! rounds `x * 32768` to nearest; and symphonia's MP3 decoder differs from FFmpeg's in the
//! last bit. Measured on a 4 s stereo test signal at zoom 256 (tests/compressed_bounds.rs):
//! the largest difference of any min or max from the peaks of FFmpeg's WAV is 2 for MP3
//! (128k, symphonia), 2 for AAC in M4A (128k, FFmpeg) and 2 for Opus (64k, FFmpeg), with the
//! same pixel count; the test holds them to at most 4 of 32768.

pub mod amplitude;
pub mod dat;
pub mod decoded;
pub mod generator;
pub mod json;
pub mod levels;
pub mod options;
pub mod pcm;
pub mod peaks;
pub mod summary;
pub mod zoom;

pub use crate::format::{AudioFormat, ChannelCount, MAX_CHANNELS, SampleRate};
pub use dat::{DatError, DatFile, DatLayout, DatWriter, decode_dat, encode_dat};
pub use decoded::{WaveformError, peaks_from_decoder};
pub use generator::{PeakGenerator, PeaksBuilder, generate};
pub use json::{WaveformJson, encode_json};
pub use options::{
    AmplitudeScale, Bits, ChannelMode, Gain, InvalidOption, SamplesPerPixel, WaveformOptions,
};
pub use peaks::{MinMax, Peaks, PeaksError};
pub use summary::{DEFAULT_SUMMARY_POINTS, Summary, SummaryBuilder};
pub use zoom::{TimeSpan, Zoom};
