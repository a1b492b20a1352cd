//! One decode, every output: streaming renditions of an upload (MP3, AAC in HLS, Opus in
//! Ogg, clips such as a preview) encoded side by side from a single pass of the
//! [`Decoder`], with any number of [`BlockSink`]s (loudness, peaks) riding along.
//!
//! # How
//!
//! The calling thread decodes (FLAC frames on decoding threads, see [`crate::decode`]). Each
//! preset's encoder and each sink runs on a thread of its own and is sent shared copies of
//! the decoded blocks over a bounded channel, so memory stays flat however long the input,
//! and the encoders use every core. A preset's
//! conversion (libswresample) remixes to at most two channels, resamples and converts to
//! what its encoder takes, in frames of the encoder's size; LAME, FFmpeg's AAC encoder and
//! libopus encode; FFmpeg's `mp3` and `ogg` muxers write files, and its `mpegts` muxer the
//! HLS segments, which Mixdown cuts and lists itself (see `muxer`).
//!
//! # Outputs
//!
//! Under the output directory, named after the preset alone: `{name}.mp3`, `{name}.ogg`, or
//! `{name}/playlist.m3u8` with `{name}/segment_00000.ts`, … (a VOD playlist). What an
//! earlier run left under those names is removed first.

mod clip;
mod codec;
mod conversion;
mod encoder;
mod error;
mod muxer;
mod output;
mod pipeline;
mod preset;
mod progress;
mod sink;

use std::fs;
use std::path::Path;

pub use codec::{OutputCodec, OutputContainer};
pub use error::{Cause, SinkError, TranscodeError};
pub use output::{OutputFile, Rendition};
pub use preset::{DEFAULT_SEGMENT_SECONDS, InvalidPreset, Preset, PresetSpec, default_presets};
pub use progress::Flow;
pub use sink::BlockSink;

use crate::decode::Decoder;
use output::Layout;

/// Decodes the rest of `decoder` once, encoding every preset into `out_dir` (created if
/// missing) and feeding every sink, and returns the renditions in the order of `presets`.
///
/// `progress` is called on the calling thread with the fraction decoded (frames over the
/// probed duration, 0 when the input declares none), at most four times a second and once
/// before the first block; [`Flow::Stop`] ends the run with [`TranscodeError::Stopped`].
///
/// On any error every output of these presets is removed (their files, and the HLS
/// directories), so nothing half-written is left under their names; `out_dir` itself and
/// anything else in it stay. A process killed mid-run does leave partial files, which is
/// why callers write into a directory of their own and move it into place on success.
/// Sinks are not finished on error.
pub fn transcode(
    decoder: &mut Decoder,
    presets: &[Preset],
    out_dir: &Path,
    sinks: &mut [&mut dyn BlockSink],
    progress: &mut dyn FnMut(f64) -> Flow,
) -> Result<Vec<Rendition>, TranscodeError> {
    let layouts = prepare(presets, out_dir)?;
    let result = pipeline::run(decoder, presets, out_dir, sinks, progress);
    if result.is_err() {
        for layout in &layouts {
            // Best effort: the run's own error is the one to report.
            let _ = layout.remove(out_dir);
        }
    }
    result
}

/// Checks that names are unique and clears the presets' output paths.
fn prepare(presets: &[Preset], out_dir: &Path) -> Result<Vec<Layout>, TranscodeError> {
    for (index, preset) in presets.iter().enumerate() {
        if presets[..index].iter().any(|p| p.name() == preset.name()) {
            return Err(TranscodeError::DuplicatePreset(preset.name().to_owned()));
        }
    }
    let write_error = |preset: &Preset, cause: std::io::Error| TranscodeError::Write {
        preset: preset.name().to_owned(),
        step: "prepare",
        cause: Box::new(cause),
    };
    let mut layouts = Vec::with_capacity(presets.len());
    for preset in presets {
        fs::create_dir_all(out_dir).map_err(|cause| write_error(preset, cause))?;
        let layout = Layout::new(preset.name(), preset.container());
        layout
            .prepare(out_dir)
            .map_err(|cause| write_error(preset, cause))?;
        layouts.push(layout);
    }
    Ok(layouts)
}
