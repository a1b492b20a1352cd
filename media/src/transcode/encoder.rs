//! One preset's FFmpeg chain: interleaved `f32` PCM of the source in; a filter graph that
//! remixes, resamples, converts and cuts it into the encoder's frame size; the encoder; the
//! muxer writing the file (or the HLS playlist and segments).
//!
//! Everything here lives on the preset's own thread: FFmpeg's contexts are not `Send`.

use std::path::Path;

use ffmpeg_next::codec::{self, Capabilities};
use ffmpeg_next::error::EAGAIN;
use ffmpeg_next::format::{self, Sample, sample::Type};
use ffmpeg_next::{ChannelLayout, Dictionary, Error, Packet, Rational, encoder, filter, frame};

use super::error::{Cause, TranscodeError};
use super::output::Layout;
use super::preset::Preset;
use crate::format::AudioFormat;

/// What went wrong, before the preset's name is attached.
pub(crate) enum Failure {
    Encode(&'static str, Cause),
    Write(&'static str, Cause),
}

impl Failure {
    pub(crate) fn for_preset(self, preset: &str) -> TranscodeError {
        let preset = preset.to_owned();
        match self {
            Self::Encode(step, cause) => TranscodeError::Encode {
                preset,
                step,
                cause,
            },
            Self::Write(step, cause) => TranscodeError::Write {
                preset,
                step,
                cause,
            },
        }
    }
}

fn encoding(step: &'static str) -> impl FnOnce(Error) -> Failure {
    move |error| Failure::Encode(step, Box::new(error))
}

fn writing(step: &'static str) -> impl FnOnce(Error) -> Failure {
    move |error| Failure::Write(step, Box::new(error))
}

/// An open encoder writing one preset's output.
pub(crate) struct PresetEncoder {
    graph: filter::Graph,
    encoder: encoder::Audio,
    output: format::context::Output,
    encoder_time_base: Rational,
    stream_time_base: Rational,
    source: AudioFormat,
    source_layout: ChannelLayout,
    next_pts: i64,
    filtered: frame::Audio,
    packet: Packet,
}

impl PresetEncoder {
    /// Opens the encoder and the muxer and writes the container header.
    pub(crate) fn open(
        preset: &Preset,
        source: AudioFormat,
        layout: &Layout,
        out_dir: &Path,
    ) -> Result<Self, Failure> {
        crate::decode::init_ffmpeg().map_err(|error| Failure::Encode("init", Box::new(error)))?;
        let target = preset.output_format(source);
        let container = preset.container();
        let mut output = format::output_as(&out_dir.join(layout.main()), container.muxer_name())
            .map_err(writing("create"))?;
        let global_header = output
            .format()
            .flags()
            .contains(format::Flags::GLOBAL_HEADER);
        let codec = encoder::find_by_name(preset.codec().encoder_name())
            .ok_or(Failure::Encode("find", Box::new(Error::EncoderNotFound)))?;
        let encoder = open_encoder(codec, preset, target, global_header)?;
        let encoder_time_base = encoder.time_base();
        let mut stream = output.add_stream(codec).map_err(writing("add stream"))?;
        stream.set_time_base(encoder_time_base);
        stream.set_parameters(&encoder);
        write_header(&mut output, muxer_options(preset, layout, out_dir))?;
        let stream_time_base = output
            .stream(0)
            .map(|stream| stream.time_base())
            .ok_or(Failure::Write("header", "the stream is gone".into()))?;
        let source_layout = ChannelLayout::default(i32::from(source.channels.get()));
        let graph = filter_graph(source, source_layout, &encoder, codec)?;
        Ok(Self {
            graph,
            encoder,
            output,
            encoder_time_base,
            stream_time_base,
            source,
            source_layout,
            next_pts: 0,
            filtered: frame::Audio::empty(),
            packet: Packet::empty(),
        })
    }

    /// Encodes interleaved samples in the source format.
    pub(crate) fn push(&mut self, samples: &[f32]) -> Result<(), Failure> {
        let channels = self.source.channels.get();
        let frames = samples.len() / usize::from(channels);
        if frames == 0 {
            return Ok(());
        }
        let mut frame = frame::Audio::new(Sample::F32(Type::Packed), frames, self.source_layout);
        frame.set_channels(channels);
        frame.set_rate(self.source.sample_rate.hz());
        frame.plane_mut::<f32>(0).copy_from_slice(samples);
        frame.set_pts(Some(self.next_pts));
        self.next_pts += frames as i64;
        self.source_context()
            .source()
            .add(&frame)
            .map_err(encoding("filter input"))?;
        self.drain_graph()
    }

    /// Flushes the filter and the encoder and writes the container trailer.
    pub(crate) fn finish(mut self) -> Result<(), Failure> {
        self.source_context()
            .source()
            .flush()
            .map_err(encoding("filter flush"))?;
        self.drain_graph()?;
        self.encoder.send_eof().map_err(encoding("flush"))?;
        self.drain_packets()?;
        self.output.write_trailer().map_err(writing("trailer"))
    }

    fn source_context(&mut self) -> filter::Context {
        self.graph.get("in").expect("the graph has its source")
    }

    fn drain_graph(&mut self) -> Result<(), Failure> {
        let mut sink = self.graph.get("out").expect("the graph has its sink");
        loop {
            match sink.sink().frame(&mut self.filtered) {
                Ok(()) => {
                    self.encoder
                        .send_frame(&self.filtered)
                        .map_err(encoding("send frame"))?;
                    self.drain_packets()?;
                }
                Err(Error::Eof | Error::Other { errno: EAGAIN }) => return Ok(()),
                Err(error) => return Err(encoding("filter output")(error)),
            }
        }
    }

    fn drain_packets(&mut self) -> Result<(), Failure> {
        loop {
            match self.encoder.receive_packet(&mut self.packet) {
                Ok(()) => {
                    self.packet.set_stream(0);
                    self.packet
                        .rescale_ts(self.encoder_time_base, self.stream_time_base);
                    self.packet
                        .write_interleaved(&mut self.output)
                        .map_err(writing("packet"))?;
                }
                Err(Error::Eof | Error::Other { errno: EAGAIN }) => return Ok(()),
                Err(error) => return Err(encoding("receive packet")(error)),
            }
        }
    }
}

fn open_encoder(
    codec: ffmpeg_next::Codec,
    preset: &Preset,
    target: AudioFormat,
    global_header: bool,
) -> Result<encoder::Audio, Failure> {
    let audio = codec.audio().map_err(encoding("find"))?;
    let mut context = codec::Context::new_with_codec(codec)
        .encoder()
        .audio()
        .map_err(encoding("context"))?;
    let rate = target.sample_rate.hz();
    let channels = target.channels.get();
    let layout = ChannelLayout::default(i32::from(channels));
    context.set_rate(i32::try_from(rate).expect("codec rates fit in i32"));
    context.set_channel_layout(layout);
    context.set_channels(i32::from(channels));
    context.set_format(sample_format(audio.formats().into_iter().flatten()));
    context.set_bit_rate(preset.bit_rate() as usize);
    context.set_time_base((1, i32::try_from(rate).expect("codec rates fit in i32")));
    if global_header {
        context.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    context.open_as(codec).map_err(encoding("open"))
}

/// Float planar or packed when the encoder takes it (no requantisation before encoding),
/// else its first format.
fn sample_format(supported: impl Iterator<Item = Sample>) -> Sample {
    let supported: Vec<Sample> = supported.collect();
    [Sample::F32(Type::Planar), Sample::F32(Type::Packed)]
        .into_iter()
        .find(|preferred| supported.contains(preferred))
        .or_else(|| supported.first().copied())
        .unwrap_or(Sample::F32(Type::Planar))
}

/// Writes the container header, refusing options the muxer ignored (a misspelt one would
/// otherwise be dropped silently).
fn write_header(
    output: &mut format::context::Output,
    options: Dictionary<'static>,
) -> Result<(), Failure> {
    let leftover = output
        .write_header_with(options)
        .map_err(writing("header"))?;
    match leftover.iter().next() {
        Some((key, _)) => Err(Failure::Write(
            "header",
            format!("the muxer does not know option {key}").into(),
        )),
        None => Ok(()),
    }
}

fn muxer_options(preset: &Preset, layout: &Layout, out_dir: &Path) -> Dictionary<'static> {
    let mut options = Dictionary::new();
    if let (Some(seconds), Some(pattern)) =
        (preset.segment_seconds(), layout.segment_pattern(out_dir))
    {
        options.set("hls_time", &seconds.to_string());
        options.set("hls_playlist_type", "vod");
        options.set("hls_segment_filename", &pattern.to_string_lossy());
    }
    options
}

/// `abuffer` (the source as it is) → `aformat` (the encoder's format, rate and layout; FFmpeg
/// inserts the resampler) → `abuffersink`, cutting frames to the encoder's size when it
/// needs fixed frames.
fn filter_graph(
    source: AudioFormat,
    source_layout: ChannelLayout,
    encoder: &encoder::Audio,
    codec: ffmpeg_next::Codec,
) -> Result<filter::Graph, Failure> {
    let mut graph = filter::Graph::new();
    let rate = source.sample_rate.hz();
    let input = format!(
        "time_base=1/{rate}:sample_rate={rate}:sample_fmt=flt:channels={}:channel_layout=0x{:x}",
        source.channels.get(),
        source_layout.bits()
    );
    let abuffer = filter::find("abuffer").ok_or(Failure::Encode("filter", "no abuffer".into()))?;
    let sink =
        filter::find("abuffersink").ok_or(Failure::Encode("filter", "no abuffersink".into()))?;
    graph
        .add(&abuffer, "in", &input)
        .map_err(encoding("filter input"))?;
    graph
        .add(&sink, "out", "")
        .map_err(encoding("filter output"))?;
    let layout = if encoder.channels() == 1 {
        "mono"
    } else {
        "stereo"
    };
    let conversion = format!(
        "aformat=sample_fmts={}:sample_rates={}:channel_layouts={layout}",
        encoder.format().name(),
        encoder.rate()
    );
    graph
        .output("in", 0)
        .and_then(|parser| parser.input("out", 0))
        .and_then(|parser| parser.parse(&conversion))
        .map_err(encoding("filter graph"))?;
    graph.validate().map_err(encoding("filter graph"))?;
    if !codec
        .capabilities()
        .contains(Capabilities::VARIABLE_FRAME_SIZE)
    {
        let mut out = graph.get("out").expect("the graph has its sink");
        out.sink().set_frame_size(encoder.frame_size());
    }
    Ok(graph)
}
