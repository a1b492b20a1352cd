//! A waveform as one file — audiowaveform's `.dat` or JSON, a PNG or SVG image, or a list
//! of normalised points — made with the options of `mixdown waveform`. A `waveform` job's
//! payload takes the same options by the same names, so one type reads both (the command
//! line through clap, with the `clap` feature; a payload through serde), one check combines
//! them under the caller's [`Limits`], and one writer makes the file from one decode.

mod check;
mod options;
mod write;

pub use check::{Limits, OptionError, WaveformFile};
pub use options::{FileFormat, StyleName, WaveformFileOptions};
pub use write::WriteError;
