//! Writing a waveform file from one decode: a `.dat` streams as blocks decode; the other
//! files are made from peaks held in memory (their size is [`WaveformFile::pairs`]).

use std::io::{Seek, Write};
use std::num::NonZeroUsize;

use thiserror::Error;

use super::check::{Content, Image, WaveformFile};
use super::options::FileFormat;
use crate::decode::{DecodeError, Decoder};
use crate::image::{Columns, ImageError, render_png, render_svg};
use crate::waveform::{
    AmplitudeScale, DatError, DatLayout, DatWriter, InvalidOption, PeakGenerator, SummaryBuilder,
    WaveformError, WaveformJson, WaveformOptions, encode_dat, peaks_from_decoder,
};

/// Why a waveform file was not written.
#[derive(Debug, Error)]
pub enum WriteError {
    /// The audio did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The zoom does not fit this audio (below 2 frames per pixel at its rate).
    #[error(transparent)]
    Options(#[from] InvalidOption),
    /// The `.dat` could not be made.
    #[error(transparent)]
    Dat(#[from] DatError),
    /// The image could not be made.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The output could not be written.
    #[error("cannot write the output: {0}")]
    Io(#[from] std::io::Error),
}

impl From<WaveformError> for WriteError {
    fn from(err: WaveformError) -> Self {
        match err {
            WaveformError::Decode(e) => Self::Decode(e),
            WaveformError::Options(e) => Self::Options(e),
        }
    }
}

impl WaveformFile {
    /// Writes the file of everything `decoder` yields to `out`, flushed.
    pub fn write<W: Write + Seek>(
        &self,
        decoder: &mut Decoder,
        mut out: W,
    ) -> Result<(), WriteError> {
        match &self.content {
            Content::Summary(points) => write_summary(decoder, *points, &mut out)?,
            Content::Data(options)
                if self.format == FileFormat::Dat
                    && options.amplitude_scale != AmplitudeScale::Auto =>
            {
                out = stream_dat(decoder, options, out)?;
            }
            Content::Data(options) => {
                let peaks = peaks_from_decoder(decoder, options)?;
                if self.format == FileFormat::Dat {
                    out.write_all(&encode_dat(&peaks, options.bits)?)?;
                } else {
                    write!(out, "{}", WaveformJson::new(&peaks, options.bits))?;
                }
            }
            Content::Image(image) => write_image(decoder, image, self.format, &mut out)?,
        }
        Ok(out.flush()?)
    }
}

/// Writes pairs as blocks decode: memory stays flat however long the audio.
fn stream_dat<W: Write + Seek>(
    decoder: &mut Decoder,
    options: &WaveformOptions,
    out: W,
) -> Result<W, WriteError> {
    let format = decoder.format();
    let samples_per_pixel = options.zoom.samples_per_pixel(format.sample_rate)?;
    let mut generator = PeakGenerator::new(format, samples_per_pixel, options.channel_mode);
    let layout = DatLayout {
        sample_rate: format.sample_rate,
        samples_per_pixel,
        channels: generator.output_channels(),
        bits: options.bits,
    };
    let mut writer = DatWriter::new(out, layout)?;
    let mut pairs = Vec::new();
    while let Some(block) = decoder.next_block()? {
        generator.push(block.pcm16(), &mut pairs);
        writer.write_pairs(&pairs)?;
        pairs.clear();
    }
    generator.finish(&mut pairs);
    writer.write_pairs(&pairs)?;
    Ok(writer.finish()?)
}

fn write_summary(
    decoder: &mut Decoder,
    points: NonZeroUsize,
    out: &mut impl Write,
) -> Result<(), WriteError> {
    let mut builder = SummaryBuilder::new(points, decoder.format().channels);
    while let Some(block) = decoder.next_block()? {
        builder.push(block.pcm16());
    }
    let values: Vec<String> = builder
        .finish()
        .points()
        .iter()
        .map(|point| format!("{point:.4}"))
        .collect();
    Ok(writeln!(out, "[{}]", values.join(","))?)
}

fn write_image(
    decoder: &mut Decoder,
    image: &Image,
    format: FileFormat,
    out: &mut impl Write,
) -> Result<(), WriteError> {
    let peaks = peaks_from_decoder(decoder, &image.peaks)?;
    let columns = match image.start {
        Some(start) => {
            let pixel_seconds =
                f64::from(peaks.samples_per_pixel().get()) / f64::from(peaks.sample_rate().hz());
            // A finite, non-negative start: the cast floors it, saturating if absurdly large.
            let first_pixel = (start / pixel_seconds) as usize;
            Columns::window(&peaks, first_pixel, image.width)
        }
        None => Columns::fit(&peaks, image.width),
    };
    match format {
        FileFormat::Svg => out.write_all(render_svg(&columns, &image.style).as_bytes())?,
        _ => out.write_all(&render_png(&columns, &image.style)?)?,
    }
    Ok(())
}
