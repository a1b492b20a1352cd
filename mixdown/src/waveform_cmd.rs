//! `mixdown waveform`: audiowaveform's command line over Mixdown's decoder, peaks and images.
//!
//! The options keep audiowaveform's names so scripts can switch. Differences: the input
//! format is always sniffed from the content (`--input-format` is accepted and ignored);
//! `--summary N` writes N normalised points as a JSON list instead of peaks. Without
//! `--zoom`, `--pixels-per-second` or `--end`, an image fits the whole audio into its width.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{ArgAction, Args, ValueEnum};
use mixdown_media::decode::{DecodeLimits, Decoder};
use mixdown_media::image::{
    BarShape, Bars, Columns, ImageStyle, Rgba, WaveformStyle, render_png, render_svg,
};
use mixdown_media::waveform::{
    AmplitudeScale, Bits, ChannelMode, DatLayout, DatWriter, Gain, PeakGenerator, SamplesPerPixel,
    SummaryBuilder, TimeSpan, WaveformJson, WaveformOptions, Zoom, peaks_from_decoder,
};

/// Options of `mixdown waveform`, named as audiowaveform names them.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct WaveformArgs {
    /// Audio file to read; its format is found from its content.
    #[arg(short = 'i', long)]
    input: PathBuf,
    /// File to write; the format comes from its extension (.dat, .json, .png, .svg).
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Output format, overriding the extension.
    #[arg(long, value_enum)]
    output_format: Option<OutputFormat>,
    /// Accepted for audiowaveform compatibility; the content decides.
    #[arg(long)]
    input_format: Option<String>,
    /// Frames per pixel (at least 2).
    #[arg(short = 'z', long, conflicts_with = "pixels_per_second")]
    zoom: Option<SamplesPerPixel>,
    /// Pixels per second of audio.
    #[arg(long)]
    pixels_per_second: Option<NonZeroU32>,
    /// Bits per stored value: 8 or 16.
    #[arg(short = 'b', long, default_value = "16")]
    bits: Bits,
    /// One waveform per channel instead of their mix.
    #[arg(long)]
    split_channels: bool,
    /// Vertical zoom: a number (images only) or `auto` (data too).
    #[arg(long, default_value = "1.0")]
    amplitude_scale: AmplitudeScale,
    /// Start time in seconds: where an image begins; with --end, sets the zoom.
    #[arg(short = 's', long, default_value_t = 0.0)]
    start: f64,
    /// End time in seconds: fits --start..--end into --width pixels.
    #[arg(short = 'e', long)]
    end: Option<f64>,
    /// Writes this many normalised points (0 to 1) as a JSON list instead of peaks.
    #[arg(long)]
    summary: Option<NonZeroUsize>,
    /// Image width in pixels.
    #[arg(short = 'w', long, default_value = "800")]
    width: NonZeroU32,
    /// Image height in pixels.
    #[arg(short = 'h', long, default_value = "250")]
    height: NonZeroU32,
    /// Image background, hex RRGGBB[AA].
    #[arg(long, default_value = "FFFFFF")]
    background_color: Rgba,
    /// Waveform colour, hex RRGGBB[AA].
    #[arg(long, default_value = "3A66C6")]
    waveform_color: Rgba,
    /// Colour of time ticks and labels, hex RRGGBB[AA].
    #[arg(long, default_value = "000000")]
    axis_label_color: Rgba,
    /// Columns or bars.
    #[arg(long, value_enum, default_value = "normal")]
    waveform_style: StyleArg,
    /// Bar width in pixels.
    #[arg(long, default_value = "8")]
    bar_width: NonZeroU32,
    /// Gap between bars in pixels.
    #[arg(long, default_value_t = 4)]
    bar_gap: u32,
    /// Bar ends.
    #[arg(long, value_enum, default_value = "square")]
    bar_style: BarStyleArg,
    /// Leaves out time ticks and labels.
    #[arg(long)]
    no_axis_labels: bool,
    /// Prints help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
}

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Dat,
    Json,
    Png,
    Svg,
}

/// `--waveform-style`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StyleArg {
    Normal,
    Bars,
}

/// `--bar-style`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BarStyleArg {
    Square,
    Rounded,
}

/// Runs the command off the async executor: decoding is CPU-bound.
pub async fn run_blocking(args: WaveformArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || run(&args)).await?
}

fn run(args: &WaveformArgs) -> anyhow::Result<()> {
    let format = output_format(args)?;
    let mut decoder = Decoder::open_path(&args.input, DecodeLimits::permissive())
        .with_context(|| format!("cannot decode {}", args.input.display()))?;
    let written = write_output(args, format, &mut decoder);
    if written.is_err() {
        // A half-written file would pass for a whole one.
        let _ = fs::remove_file(&args.output);
    }
    written.with_context(|| format!("cannot make {}", args.output.display()))
}

fn output_format(args: &WaveformArgs) -> anyhow::Result<OutputFormat> {
    if let Some(format) = args.output_format {
        return Ok(format);
    }
    let extension = args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    match OutputFormat::from_str(extension, true) {
        Ok(format) => Ok(format),
        Err(_) => bail!(
            "cannot tell the output format of {}: use .dat, .json, .png or .svg, or --output-format",
            args.output.display()
        ),
    }
}

fn write_output(
    args: &WaveformArgs,
    format: OutputFormat,
    decoder: &mut Decoder,
) -> anyhow::Result<()> {
    let options = waveform_options(args)?;
    if let Some(points) = args.summary {
        return write_summary(decoder, points, &args.output);
    }
    match format {
        OutputFormat::Dat if options.amplitude_scale != AmplitudeScale::Auto => {
            stream_dat(decoder, &options, &args.output)
        }
        OutputFormat::Dat => {
            let peaks = peaks_from_decoder(decoder, &options)?;
            let bytes = mixdown_media::waveform::encode_dat(&peaks, options.bits)?;
            Ok(fs::write(&args.output, bytes)?)
        }
        OutputFormat::Json => {
            let peaks = peaks_from_decoder(decoder, &options)?;
            let mut out = create(&args.output)?;
            write!(out, "{}", WaveformJson::new(&peaks, options.bits))?;
            Ok(out.flush()?)
        }
        OutputFormat::Png | OutputFormat::Svg => write_image(args, format, decoder, &options),
    }
}

fn waveform_options(args: &WaveformArgs) -> anyhow::Result<WaveformOptions> {
    let zoom = match (args.zoom, args.pixels_per_second, args.end) {
        (Some(frames), _, _) => Zoom::SamplesPerPixel(frames),
        (None, Some(pixels), _) => Zoom::PixelsPerSecond(pixels),
        (None, None, Some(end)) => Zoom::Fit {
            span: TimeSpan::new(args.start, end)?,
            width: args.width,
        },
        (None, None, None) => Zoom::default(),
    };
    let channel_mode = if args.split_channels {
        ChannelMode::Split
    } else {
        ChannelMode::Mixed
    };
    Ok(WaveformOptions {
        zoom,
        bits: args.bits,
        amplitude_scale: args.amplitude_scale,
        channel_mode,
    })
}

fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    Ok(BufWriter::new(File::create(path)?))
}

/// Writes pairs as blocks decode: memory stays flat however long the audio.
fn stream_dat(decoder: &mut Decoder, options: &WaveformOptions, path: &Path) -> anyhow::Result<()> {
    let format = decoder.format();
    let samples_per_pixel = options.zoom.samples_per_pixel(format.sample_rate)?;
    let mut generator = PeakGenerator::new(format, samples_per_pixel, options.channel_mode);
    let layout = DatLayout {
        sample_rate: format.sample_rate,
        samples_per_pixel,
        channels: generator.output_channels(),
        bits: options.bits,
    };
    let mut writer = DatWriter::new(create(path)?, layout)?;
    let mut pairs = Vec::new();
    while let Some(block) = decoder.next_block()? {
        generator.push(block.pcm16(), &mut pairs);
        writer.write_pairs(&pairs)?;
        pairs.clear();
    }
    generator.finish(&mut pairs);
    writer.write_pairs(&pairs)?;
    writer.finish()?;
    Ok(())
}

fn write_summary(decoder: &mut Decoder, points: NonZeroUsize, path: &Path) -> anyhow::Result<()> {
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
    Ok(fs::write(path, format!("[{}]\n", values.join(",")))?)
}

fn write_image(
    args: &WaveformArgs,
    format: OutputFormat,
    decoder: &mut Decoder,
    options: &WaveformOptions,
) -> anyhow::Result<()> {
    let peaks = peaks_from_decoder(decoder, options)?;
    let explicit_zoom = args.zoom.is_some() || args.pixels_per_second.is_some();
    let columns = if explicit_zoom || args.end.is_some() {
        let pixel_seconds =
            f64::from(peaks.samples_per_pixel().get()) / f64::from(peaks.sample_rate().hz());
        // A finite, non-negative start: the cast floors it, saturating if absurdly large.
        let first_pixel = (args.start.max(0.0) / pixel_seconds) as usize;
        Columns::window(&peaks, first_pixel, args.width)
    } else {
        Columns::fit(&peaks, args.width)
    };
    let style = image_style(args);
    match format {
        OutputFormat::Svg => fs::write(&args.output, render_svg(&columns, &style))?,
        _ => fs::write(&args.output, render_png(&columns, &style)?)?,
    }
    Ok(())
}

fn image_style(args: &WaveformArgs) -> ImageStyle {
    let style = match args.waveform_style {
        StyleArg::Normal => WaveformStyle::Normal,
        StyleArg::Bars => WaveformStyle::Bars(Bars {
            width: args.bar_width,
            gap: args.bar_gap,
            shape: match args.bar_style {
                BarStyleArg::Square => BarShape::Square,
                BarStyleArg::Rounded => BarShape::Rounded,
            },
        }),
    };
    let gain = match args.amplitude_scale {
        AmplitudeScale::Fixed(gain) => gain,
        // Auto scaling already stretched the peaks themselves.
        AmplitudeScale::Auto => Gain::UNITY,
    };
    ImageStyle {
        height: args.height,
        background: args.background_color,
        waveform: args.waveform_color,
        axis_label: args.axis_label_color,
        style,
        axis_labels: !args.no_axis_labels,
        gain,
    }
}
