//! The waveform a track keeps: 8-bit, mixed-down peaks at the zoom levels
//! peaks.js asks for by default, written as `.dat` files while the audio is
//! decoded, the finest level also as JSON, and the list-view summary.
//!
//! Every level is kept, not only the finest one that waveform-data.js could
//! resample from: resampling 8-bit data rounds once more, and a client
//! should get exactly what audiowaveform would give it at each level.

use std::{
    fs::File,
    io::{BufWriter, Write},
    num::NonZeroUsize,
    path::{Path, PathBuf},
};

use super::{
    ChannelMode, DatError, DatLayout, DatWriter, MinMax, PeakGenerator, SamplesPerPixel, Summary,
    SummaryBuilder, decode_dat, encode_json, options::Bits,
};
use crate::{
    decode::PcmBlock,
    format::AudioFormat,
    transcode::{BlockSink, SinkError},
};

/// peaks.js's default zoom levels, in frames per pixel.
pub const PEAKS_JS_ZOOMS: [u32; 4] = [512, 1024, 2048, 4096];

/// One zoom level in progress.
struct Level {
    zoom: SamplesPerPixel,
    generator: PeakGenerator,
    writer: DatWriter<BufWriter<File>>,
    path: PathBuf,
}

/// Writes every level and the summary as PCM arrives.
pub struct LevelsWriter {
    levels: Vec<Level>,
    summary: SummaryBuilder,
    json_path: PathBuf,
    pairs: Vec<MinMax>,
}

/// A file the writer made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelFile {
    /// Frames per pixel.
    pub zoom: u32,
    /// Where it is.
    pub path: PathBuf,
}

/// What the writer made.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels {
    /// One `.dat` per zoom, finest first.
    pub dat: Vec<LevelFile>,
    /// The finest level as audiowaveform's JSON.
    pub json: LevelFile,
    /// The normalised summary.
    pub summary: Summary,
}

impl LevelsWriter {
    /// Starts `waveform_{zoom}.dat` for every zoom of [`PEAKS_JS_ZOOMS`] in
    /// `dir`, for audio of `format`.
    pub fn create(
        dir: &Path,
        format: AudioFormat,
        summary_points: NonZeroUsize,
    ) -> Result<Self, DatError> {
        let mut levels = Vec::with_capacity(PEAKS_JS_ZOOMS.len());
        for frames in PEAKS_JS_ZOOMS {
            let zoom = SamplesPerPixel::new(i64::from(frames)).expect("peaks.js zooms are valid");
            let path = dir.join(format!("waveform_{}.dat", zoom.get()));
            let layout = DatLayout {
                sample_rate: format.sample_rate,
                samples_per_pixel: zoom,
                channels: crate::format::ChannelCount::MONO,
                bits: Bits::Eight,
            };
            let writer = DatWriter::new(BufWriter::new(File::create(&path)?), layout)?;
            levels.push(Level {
                zoom,
                generator: PeakGenerator::new(format, zoom, ChannelMode::Mixed),
                writer,
                path,
            });
        }
        Ok(Self {
            levels,
            summary: SummaryBuilder::new(summary_points, format.channels),
            json_path: dir.join(format!("waveform_{}.json", PEAKS_JS_ZOOMS[0])),
            pairs: Vec::new(),
        })
    }

    /// Consumes interleaved 16-bit samples.
    pub fn push(&mut self, samples: &[i16]) -> Result<(), DatError> {
        self.summary.push(samples);
        for level in &mut self.levels {
            self.pairs.clear();
            level.generator.push(samples, &mut self.pairs);
            level.writer.write_pairs(&self.pairs)?;
        }
        Ok(())
    }

    /// Finishes every file and the summary.
    pub fn finish(self) -> Result<Levels, DatError> {
        let mut dat = Vec::with_capacity(self.levels.len());
        for mut level in self.levels {
            let mut last = Vec::new();
            level.generator.finish(&mut last);
            level.writer.write_pairs(&last)?;
            level
                .writer
                .finish()?
                .into_inner()
                .map_err(|e| e.into_error())?;
            dat.push(LevelFile {
                zoom: level.zoom.get(),
                path: level.path,
            });
        }
        // The finest level is 1/512 of the frames: small enough to hold.
        let finest = &dat[0];
        let decoded = decode_dat(std::io::BufReader::new(File::open(&finest.path)?))?;
        let mut json = BufWriter::new(File::create(&self.json_path)?);
        json.write_all(encode_json(&decoded.peaks, decoded.bits).as_bytes())?;
        json.into_inner().map_err(|e| e.into_error())?;
        Ok(Levels {
            json: LevelFile {
                zoom: finest.zoom,
                path: self.json_path,
            },
            dat,
            summary: self.summary.finish(),
        })
    }
}

/// The levels as a sink of the transcode pass: they ride the same decode.
pub struct LevelsSink {
    writer: Option<LevelsWriter>,
    levels: Option<Levels>,
}

impl LevelsSink {
    /// A sink writing into `dir` for audio of `format`.
    pub fn create(
        dir: &Path,
        format: AudioFormat,
        summary_points: NonZeroUsize,
    ) -> Result<Self, DatError> {
        Ok(Self {
            writer: Some(LevelsWriter::create(dir, format, summary_points)?),
            levels: None,
        })
    }

    /// What was written, once the pass has finished.
    pub fn into_levels(self) -> Option<Levels> {
        self.levels
    }
}

impl BlockSink for LevelsSink {
    fn push(&mut self, block: &PcmBlock) -> Result<(), SinkError> {
        match &mut self.writer {
            Some(writer) => writer.push(block.pcm16()).map_err(SinkError::new),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        if let Some(writer) = self.writer.take() {
            self.levels = Some(writer.finish().map_err(SinkError::new)?);
        }
        Ok(())
    }
}
