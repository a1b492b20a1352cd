//! Streaming peak generation: interleaved 16-bit samples in, min/max pairs out.

use super::amplitude;
use super::options::{
    AmplitudeScale, ChannelMode, InvalidOption, SamplesPerPixel, WaveformOptions,
};
use super::peaks::{MinMax, Peaks};
use crate::format::{AudioFormat, ChannelCount};

/// The pair a block starts from, so that any real sample replaces both ends.
const UNTOUCHED: MinMax = MinMax {
    min: i16::MAX,
    max: i16::MIN,
};

/// Turns samples into min/max pairs while holding only the block in progress.
///
/// Samples may arrive in chunks of any size, even ones that cut a frame in two.
#[derive(Debug, Clone)]
pub struct PeakGenerator {
    mode: ChannelMode,
    outputs: ChannelCount,
    samples_per_pixel: u32,
    frame: Vec<i16>,
    frame_len: usize,
    frames_in_block: u32,
    block: Vec<MinMax>,
}

impl PeakGenerator {
    /// A generator for `format` input making one pixel per `samples_per_pixel` frames.
    pub fn new(format: AudioFormat, samples_per_pixel: SamplesPerPixel, mode: ChannelMode) -> Self {
        let outputs = match mode {
            ChannelMode::Mixed => ChannelCount::MONO,
            ChannelMode::Split => format.channels,
        };
        Self {
            mode,
            outputs,
            samples_per_pixel: samples_per_pixel.get(),
            frame: Vec::with_capacity(format.channels.as_usize()),
            frame_len: format.channels.as_usize(),
            frames_in_block: 0,
            block: vec![UNTOUCHED; outputs.as_usize()],
        }
    }

    /// Channels of the pairs this generator emits.
    pub fn output_channels(&self) -> ChannelCount {
        self.outputs
    }

    /// Consumes interleaved samples, adding one pair per output channel to `out`
    /// each time a block of frames completes.
    pub fn push(&mut self, mut samples: &[i16], out: &mut impl Extend<MinMax>) {
        // First complete a frame the previous call cut in two.
        while !self.frame.is_empty() {
            let Some((&sample, rest)) = samples.split_first() else {
                return;
            };
            self.frame.push(sample);
            samples = rest;
            if self.frame.len() == self.frame_len {
                let mut frame = std::mem::take(&mut self.frame);
                self.widen_run(&frame, out);
                frame.clear();
                self.frame = frame;
            }
        }
        let whole = samples.len() / self.frame_len * self.frame_len;
        let (mut frames, rest) = samples.split_at(whole);
        // Whole frames go in runs that end at block boundaries, each reduced
        // to its extremes in one tight loop.
        while !frames.is_empty() {
            let room = (self.samples_per_pixel - self.frames_in_block) as usize;
            let take = room.min(frames.len() / self.frame_len);
            let (run, tail) = frames.split_at(take * self.frame_len);
            self.widen_run(run, out);
            frames = tail;
        }
        self.frame.extend_from_slice(rest);
    }

    /// Emits the last, shorter block if it holds any frame; a frame cut short is dropped,
    /// as a decoder only ever hands over whole frames.
    pub fn finish(self, out: &mut impl Extend<MinMax>) {
        if self.frames_in_block > 0 {
            out.extend(self.block.iter().copied());
        }
    }

    /// Widens the block by `run`, whole frames that fit in it, and emits the
    /// block once full.
    fn widen_run(&mut self, run: &[i16], out: &mut impl Extend<MinMax>) {
        let n = self.frame_len;
        match self.mode {
            ChannelMode::Mixed => merge(&mut self.block[0], mixed_extremes(run, n)),
            ChannelMode::Split => {
                for (channel, pair) in self.block.iter_mut().enumerate() {
                    for &sample in run.iter().skip(channel).step_by(n) {
                        widen(pair, sample);
                    }
                }
            }
        }
        self.frames_in_block += (run.len() / n) as u32;
        if self.frames_in_block == self.samples_per_pixel {
            out.extend(self.block.iter().copied());
            self.block.fill(UNTOUCHED);
            self.frames_in_block = 0;
        }
    }
}

/// The lowest and highest mixed-down sample of whole `n`-channel frames. Mono and stereo,
/// nearly every input, get loops of their own: with the channel count known to the
/// compiler, the mean is a shift instead of a division per frame.
fn mixed_extremes(run: &[i16], n: usize) -> MinMax {
    match n {
        1 => extremes(run.iter().copied()),
        2 => extremes(run.chunks_exact(2).map(|frame| {
            // The same truncation toward zero as `mix_down`, the division by a constant.
            ((i32::from(frame[0]) + i32::from(frame[1])) / 2) as i16
        })),
        _ => extremes(run.chunks_exact(n).map(mix_down)),
    }
}

fn extremes(samples: impl Iterator<Item = i16>) -> MinMax {
    samples.fold(UNTOUCHED, |pair, s| MinMax {
        min: pair.min.min(s),
        max: pair.max.max(s),
    })
}

/// Integer mean of a frame, truncated toward zero as C++ `int` division does.
pub fn mix_down(frame: &[i16]) -> i16 {
    let sum: i32 = frame.iter().copied().map(i32::from).sum();
    let count = i32::try_from(frame.len()).unwrap_or(i32::MAX).max(1);
    // A mean of `i16` values always fits, so the fallback is unreachable.
    i16::try_from(sum / count).unwrap_or(0)
}

fn merge(pair: &mut MinMax, other: MinMax) {
    pair.min = pair.min.min(other.min);
    pair.max = pair.max.max(other.max);
}

fn widen(pair: &mut MinMax, sample: i16) {
    pair.min = pair.min.min(sample);
    pair.max = pair.max.max(sample);
}

/// Collects a whole [`Peaks`] from streamed samples and applies `auto` amplitude scaling,
/// which needs every pair before it can scale any.
#[derive(Debug, Clone)]
pub struct PeaksBuilder {
    generator: PeakGenerator,
    format: AudioFormat,
    samples_per_pixel: SamplesPerPixel,
    amplitude_scale: AmplitudeScale,
    pairs: Vec<MinMax>,
}

impl PeaksBuilder {
    /// Resolves the zoom for `format`; fails where audiowaveform refuses the zoom.
    pub fn new(format: AudioFormat, options: &WaveformOptions) -> Result<Self, InvalidOption> {
        let samples_per_pixel = options.zoom.samples_per_pixel(format.sample_rate)?;
        Ok(Self {
            generator: PeakGenerator::new(format, samples_per_pixel, options.channel_mode),
            format,
            samples_per_pixel,
            amplitude_scale: options.amplitude_scale,
            pairs: Vec::new(),
        })
    }

    /// Consumes interleaved samples.
    pub fn push(&mut self, samples: &[i16]) {
        self.generator.push(samples, &mut self.pairs);
    }

    /// The finished peaks, auto-scaled if asked for.
    pub fn finish(mut self) -> Peaks {
        let channels = self.generator.output_channels();
        self.generator.finish(&mut self.pairs);
        let mut peaks = Peaks::from_whole_pixels(
            self.format.sample_rate,
            self.samples_per_pixel,
            channels,
            self.pairs,
        );
        if self.amplitude_scale == AmplitudeScale::Auto {
            let gain = amplitude::auto_gain(&peaks);
            amplitude::apply_gain(&mut peaks, gain);
        }
        peaks
    }
}

/// Peaks of a whole in-memory recording.
pub fn generate(
    format: AudioFormat,
    options: &WaveformOptions,
    samples: &[i16],
) -> Result<Peaks, InvalidOption> {
    let mut builder = PeaksBuilder::new(format, options)?;
    builder.push(samples);
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::SampleRate;
    use crate::waveform::options::Gain;
    use crate::waveform::zoom::Zoom;

    fn format(channels: u16) -> AudioFormat {
        AudioFormat {
            sample_rate: SampleRate::new(8000).expect("rate"),
            channels: ChannelCount::new(channels).expect("channels"),
        }
    }

    fn options(frames: i64, channel_mode: ChannelMode) -> WaveformOptions {
        let zoom = Zoom::SamplesPerPixel(SamplesPerPixel::new(frames).expect("zoom"));
        WaveformOptions {
            zoom,
            channel_mode,
            ..WaveformOptions::default()
        }
    }

    fn pairs(peaks: &Peaks) -> Vec<(i16, i16)> {
        peaks
            .pairs()
            .iter()
            .map(|pair| (pair.min, pair.max))
            .collect()
    }

    #[test]
    fn mixing_down_truncates_the_mean_toward_zero() {
        assert_eq!(mix_down(&[-1, 0]), 0);
        assert_eq!(mix_down(&[-3, 0]), -1);
        assert_eq!(mix_down(&[3, 0]), 1);
        assert_eq!(mix_down(&[i16::MIN, i16::MIN]), i16::MIN);
        assert_eq!(mix_down(&[i16::MAX, i16::MAX, i16::MAX]), i16::MAX);
    }

    #[test]
    fn the_mono_and_stereo_loops_mix_down_as_the_general_one_does() {
        // Odd sums of either sign, and the extremes of the range.
        let edges = [
            i16::MIN,
            i16::MIN + 1,
            -3,
            -1,
            0,
            1,
            3,
            i16::MAX - 1,
            i16::MAX,
        ];
        let frames: Vec<i16> = edges
            .iter()
            .flat_map(|&a| edges.iter().flat_map(move |&b| [a, b]))
            .collect();
        for start in 0..frames.len() / 2 {
            let run = &frames[start * 2..];
            let general = extremes(run.chunks_exact(2).map(mix_down));
            assert_eq!(mixed_extremes(run, 2), general, "from frame {start}");
            let mono = extremes(run.iter().map(|&s| mix_down(&[s])));
            assert_eq!(mixed_extremes(run, 1), mono);
        }
    }

    #[test]
    fn a_stereo_block_gives_the_min_and_max_of_the_mixed_frames() {
        let samples = [-3, 0, 10, 20, 7, -7, 100, -100];
        let peaks = generate(format(2), &options(4, ChannelMode::Mixed), &samples).expect("peaks");
        assert_eq!(pairs(&peaks), vec![(-1, 15)]);
    }

    #[test]
    fn the_last_partial_block_still_gives_a_pixel_from_the_frames_it_has() {
        let samples = [1, 2, 3, -4, 5];
        let peaks = generate(format(1), &options(2, ChannelMode::Mixed), &samples).expect("peaks");
        assert_eq!(pairs(&peaks), vec![(1, 2), (-4, 3), (5, 5)]);
    }

    #[test]
    fn input_that_fills_whole_blocks_gives_no_extra_pixel() {
        let peaks =
            generate(format(1), &options(2, ChannelMode::Mixed), &[1, 2, 3, 4]).expect("peaks");
        assert_eq!(peaks.len(), 2);
    }

    #[test]
    fn no_input_gives_no_pixels() {
        let peaks = generate(format(2), &options(2, ChannelMode::Mixed), &[]).expect("peaks");
        assert!(peaks.is_empty());
    }

    #[test]
    fn split_channels_keep_their_own_min_and_max_interleaved_per_pixel() {
        let samples = [1, -10, 2, 10, 3, 0];
        let peaks = generate(format(2), &options(2, ChannelMode::Split), &samples).expect("peaks");
        assert_eq!(peaks.channels().get(), 2);
        assert_eq!(pairs(&peaks), vec![(1, 2), (-10, 10), (3, 3), (0, 0)]);
    }

    #[test]
    fn a_frame_cut_across_chunks_is_joined_and_a_frame_cut_short_at_the_end_is_dropped() {
        let mut builder =
            PeaksBuilder::new(format(2), &options(2, ChannelMode::Mixed)).expect("zoom");
        for chunk in [&[10][..], &[20, 30], &[40, 99]] {
            builder.push(chunk);
        }
        assert_eq!(pairs(&builder.finish()), vec![(15, 35)]);
    }

    #[test]
    fn a_fixed_amplitude_scale_leaves_generated_data_alone() {
        let scaled = WaveformOptions {
            amplitude_scale: AmplitudeScale::Fixed(Gain::new(1.5).expect("gain")),
            ..options(2, ChannelMode::Mixed)
        };
        let peaks = generate(format(1), &scaled, &[-100, 100]).expect("peaks");
        assert_eq!(pairs(&peaks), vec![(-100, 100)]);
    }

    #[test]
    fn auto_amplitude_scale_stretches_the_finished_peaks() {
        let auto = WaveformOptions {
            amplitude_scale: AmplitudeScale::Auto,
            ..options(2, ChannelMode::Mixed)
        };
        let peaks = generate(format(1), &auto, &[-16384, 8192, -8192, 16384]).expect("peaks");
        assert_eq!(pairs(&peaks), vec![(-32767, 16383), (-16383, 32767)]);
    }

    #[test]
    fn a_zoom_below_two_frames_is_refused() {
        let per_second = std::num::NonZeroU32::new(8000).expect("non-zero");
        let fast = WaveformOptions {
            zoom: Zoom::PixelsPerSecond(per_second),
            ..WaveformOptions::default()
        };
        assert_eq!(
            PeaksBuilder::new(format(1), &fast).err(),
            Some(InvalidOption::SamplesPerPixel(1))
        );
    }
}
