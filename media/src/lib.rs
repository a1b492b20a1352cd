//! Pure audio code of Mixdown: samples and bytes in, values out.

pub mod analysis;
pub mod decode;
pub mod format;
pub mod image;
pub mod loudness;
mod metadata;
pub mod tags;
pub mod transcode;
pub mod waveform;
pub mod waveform_file;
