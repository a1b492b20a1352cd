//! One preset's FFmpeg chain: interleaved `f32` PCM of the source in; its [`Conversion`] to
//! the encoder's channels, rate, sample format and frame size; the encoder; the [`Muxer`]
//! writing the file (or the HLS segments and playlist).
//!
//! Everything here lives on the preset's own thread: FFmpeg's contexts are not `Send`.

use std::path::Path;

use ffmpeg_next::codec::{self, Capabilities};
use ffmpeg_next::error::EAGAIN;
use ffmpeg_next::format::{Sample, sample::Type};
use ffmpeg_next::{ChannelLayout, Error, Packet, encoder};

use super::conversion::{Conversion, Target};
use super::error::{Cause, TranscodeError};
use super::muxer::{Created, Muxer};
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

pub(super) fn writing(step: &'static str) -> impl FnOnce(Error) -> Failure {
    move |error| Failure::Write(step, Box::new(error))
}

/// An open encoder writing one preset's output.
pub(crate) struct PresetEncoder {
    conversion: Conversion,
    encoder: encoder::Audio,
    muxer: Muxer,
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
        let created = Created::new(preset, layout, out_dir)?;
        let codec = encoder::find_by_name(preset.codec().encoder_name())
            .ok_or(Failure::Encode("find", Box::new(Error::EncoderNotFound)))?;
        let encoder = open_encoder(codec, preset, target, created.global_header())?;
        let muxer = created.begin(codec, &encoder)?;
        let source_layout = ChannelLayout::default(i32::from(source.channels.get()));
        let fixed_frames = !codec
            .capabilities()
            .contains(Capabilities::VARIABLE_FRAME_SIZE);
        let target = Target {
            format: encoder.format(),
            layout: ChannelLayout::default(i32::from(encoder.channels())),
            rate: encoder.rate(),
            frame_size: fixed_frames.then_some(encoder.frame_size() as usize),
        };
        let conversion =
            Conversion::new(source, source_layout, target).map_err(encoding("convert"))?;
        Ok(Self {
            conversion,
            encoder,
            muxer,
            packet: Packet::empty(),
        })
    }

    /// Encodes interleaved samples in the source format.
    pub(crate) fn push(&mut self, samples: &[f32]) -> Result<(), Failure> {
        self.conversion
            .convert(samples)
            .map_err(encoding("convert"))?;
        self.encode_ready()
    }

    /// Flushes the conversion and the encoder and writes the container trailer.
    pub(crate) fn finish(mut self) -> Result<(), Failure> {
        self.conversion.end().map_err(encoding("convert flush"))?;
        self.encode_ready()?;
        self.encoder.send_eof().map_err(encoding("flush"))?;
        self.drain_packets()?;
        self.muxer.finish()
    }

    fn encode_ready(&mut self) -> Result<(), Failure> {
        while let Some(frame) = self.conversion.next_frame() {
            self.encoder
                .send_frame(&frame)
                .map_err(encoding("send frame"))?;
            self.drain_packets()?;
        }
        Ok(())
    }

    fn drain_packets(&mut self) -> Result<(), Failure> {
        loop {
            match self.encoder.receive_packet(&mut self.packet) {
                Ok(()) => self.muxer.write(&mut self.packet)?,
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
