//! The source's interleaved `f32` PCM remixed, resampled and converted to what one encoder
//! takes (libswresample), then cut into frames of the encoder's size when it needs fixed
//! frames.
//!
//! libswresample alone rather than a libavfilter graph: the binary then does not load
//! libavfilter, whose own dependants (speech synthesis, SVG, GPU libraries) cost every
//! Mixdown process ~11 MiB of resident memory at start and do nothing for audio.

use ffmpeg_next::format::{Sample, sample::Type};
use ffmpeg_next::software::resampling;
use ffmpeg_next::{ChannelLayout, Error, frame};

use crate::format::AudioFormat;

/// Samples of slack above libswresample's own bound on what one call can output.
const OUTPUT_SLACK: usize = 32;

/// The encoder's side of a conversion.
pub(crate) struct Target {
    pub format: Sample,
    pub layout: ChannelLayout,
    pub rate: u32,
    /// Frames per encoder frame; `None` for an encoder that takes any size.
    pub frame_size: Option<usize>,
}

/// Converts source PCM to frames an encoder takes.
pub(crate) struct Conversion {
    resampler: resampling::Context,
    source: AudioFormat,
    source_layout: ChannelLayout,
    target: Target,
    converted: frame::Audio,
    /// Frames `converted` has room for; 0 until first allocated.
    room: usize,
    pending: Pending,
    next_pts: i64,
    ended: bool,
}

impl Conversion {
    pub(crate) fn new(
        source: AudioFormat,
        source_layout: ChannelLayout,
        target: Target,
    ) -> Result<Self, Error> {
        let resampler = resampling::Context::get(
            Sample::F32(Type::Packed),
            source_layout,
            source.sample_rate.hz(),
            target.format,
            target.layout,
            target.rate,
        )?;
        let pending = Pending::new(target.format, target.layout.channels());
        Ok(Self {
            resampler,
            source,
            source_layout,
            converted: frame::Audio::empty(),
            room: 0,
            pending,
            target,
            next_pts: 0,
            ended: false,
        })
    }

    /// Converts interleaved source samples; [`next_frame`](Self::next_frame) hands them out.
    pub(crate) fn convert(&mut self, samples: &[f32]) -> Result<(), Error> {
        let channels = self.source.channels.get();
        let frames = samples.len() / usize::from(channels);
        if frames == 0 {
            return Ok(());
        }
        let mut input = frame::Audio::new(Sample::F32(Type::Packed), frames, self.source_layout);
        input.set_channels(channels);
        input.set_rate(self.source.sample_rate.hz());
        input.plane_mut::<f32>(0).copy_from_slice(samples);
        self.make_room(frames);
        self.resampler.run(&input, &mut self.converted)?;
        self.pending.append(&self.converted);
        Ok(())
    }

    /// Ends the input: drains what the resampler holds, so that the last, possibly short,
    /// frame comes out of [`next_frame`](Self::next_frame) too.
    pub(crate) fn end(&mut self) -> Result<(), Error> {
        loop {
            self.make_room(0);
            let more = self.resampler.flush(&mut self.converted)?;
            self.pending.append(&self.converted);
            if more.is_none() || self.converted.samples() == 0 {
                break;
            }
        }
        self.ended = true;
        Ok(())
    }

    /// The next frame ready for the encoder, stamped in its time base (`1/rate`).
    pub(crate) fn next_frame(&mut self) -> Option<frame::Audio> {
        let pending = self.pending.len();
        let frames = match self.target.frame_size {
            Some(size) if pending >= size => size,
            // Only the last frame may be short.
            Some(_) if self.ended => pending,
            Some(_) => 0,
            None => pending,
        };
        (frames > 0).then(|| self.take(frames))
    }

    /// Sizes the output frame for what converting `input_frames` more can yield.
    fn make_room(&mut self, input_frames: usize) {
        let delayed = self
            .resampler
            .delay()
            .map_or(0, |d| usize::try_from(d.output).unwrap_or(0));
        let converted = (input_frames as u64 * u64::from(self.target.rate))
            .div_ceil(u64::from(self.source.sample_rate.hz()));
        let needed = delayed + converted as usize + OUTPUT_SLACK;
        if self.room < needed {
            self.converted = frame::Audio::new(self.target.format, needed, self.target.layout);
            self.converted
                .set_channels(self.target.layout.channels() as u16);
            self.room = capacity(&self.converted);
        }
        // The resampler takes the frame's sample count as its room and leaves it at what it
        // wrote.
        self.converted.set_samples(self.room);
    }

    /// A frame of the first `frames` pending samples, stamped in the encoder's time base.
    fn take(&mut self, frames: usize) -> frame::Audio {
        let mut frame = frame::Audio::new(self.target.format, frames, self.target.layout);
        frame.set_channels(self.target.layout.channels() as u16);
        frame.set_rate(self.target.rate);
        self.pending.take_into(frames, &mut frame);
        frame.set_pts(Some(self.next_pts));
        self.next_pts += frames as i64;
        frame
    }
}

/// Frames an allocated frame can hold, from its line size.
fn capacity(frame: &frame::Audio) -> usize {
    let per_frame = frame.format().bytes()
        * if frame.is_packed() {
            usize::from(frame.channels())
        } else {
            1
        };
    frame.data(0).len() / per_frame
}

/// Converted samples not yet handed to the encoder, one byte queue per plane.
struct Pending {
    planes: Vec<Vec<u8>>,
    /// Bytes one frame takes in each plane.
    frame_bytes: usize,
}

impl Pending {
    fn new(format: Sample, channels: i32) -> Self {
        let channels = usize::try_from(channels).unwrap_or(1).max(1);
        let (planes, per_plane) = if format.is_planar() {
            (channels, 1)
        } else {
            (1, channels)
        };
        Self {
            planes: vec![Vec::new(); planes],
            frame_bytes: format.bytes() * per_plane,
        }
    }

    fn len(&self) -> usize {
        self.planes[0].len() / self.frame_bytes
    }

    fn append(&mut self, converted: &frame::Audio) {
        let bytes = converted.samples() * self.frame_bytes;
        for (index, plane) in self.planes.iter_mut().enumerate() {
            plane.extend_from_slice(&converted.data(index)[..bytes]);
        }
    }

    fn take_into(&mut self, frames: usize, frame: &mut frame::Audio) {
        let bytes = frames * self.frame_bytes;
        for (index, plane) in self.planes.iter_mut().enumerate() {
            frame.data_mut(index)[..bytes].copy_from_slice(&plane[..bytes]);
            plane.drain(..bytes);
        }
    }
}
