//! The single decode pass: the calling thread decodes; every preset's encoder and every sink
//! runs on a thread of its own, fed shared copies of each block over bounded channels.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, ScopedJoinHandle};

use super::clip::{FrameWindow, span};
use super::encoder::{Failure, PresetEncoder};
use super::error::{SinkError, TranscodeError};
use super::output::{Layout, Rendition};
use super::preset::Preset;
use super::progress::{Flow, Reporter};
use super::sink::BlockSink;
use crate::decode::{DecodeError, Decoder, PcmBlock};
use crate::format::AudioFormat;

/// Blocks that may wait for each consumer. A block is one codec packet (a few thousand
/// frames), so this bounds memory to a few MiB whatever the input's length, while letting
/// a consumer that is briefly slower keep the decoder busy.
const QUEUE_BLOCKS: usize = 32;

/// What a consumer receives.
enum Feed {
    Block(Arc<PcmBlock>),
    /// Everything the consumer wants has been sent: it may finish its output. A channel that
    /// closes without this means the run was abandoned.
    End,
}

/// Why a consumer stopped without finishing.
enum LaneError {
    /// The run was abandoned elsewhere.
    Aborted,
    Failed(TranscodeError),
}

/// Why the decode loop stopped early.
enum Interrupt {
    Decode(DecodeError),
    Stopped,
    /// A consumer hung up: it failed, and says why when joined.
    LaneGone,
}

/// The sending end of one consumer's channel, with the frames it wants.
struct Feeder {
    sender: Option<SyncSender<Feed>>,
    window: FrameWindow,
}

impl Feeder {
    fn new(window: FrameWindow) -> (Self, Receiver<Feed>) {
        let (sender, receiver) = sync_channel(QUEUE_BLOCKS);
        let feeder = Self {
            sender: Some(sender),
            window,
        };
        (feeder, receiver)
    }

    fn offer(&mut self, block: &Arc<PcmBlock>) -> Result<(), Interrupt> {
        let Some(sender) = &self.sender else {
            return Ok(());
        };
        let frames = span(block);
        if self.window.overlaps(&frames) {
            sender
                .send(Feed::Block(Arc::clone(block)))
                .map_err(|_| Interrupt::LaneGone)?;
        }
        if self.window.ends_by(frames.end) {
            self.end()?;
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), Interrupt> {
        match self.sender.take() {
            Some(sender) => sender.send(Feed::End).map_err(|_| Interrupt::LaneGone),
            None => Ok(()),
        }
    }

    fn is_open(&self) -> bool {
        self.sender.is_some()
    }
}

/// Decodes once and feeds every preset and sink; see [`super::transcode`].
pub(crate) fn run(
    decoder: &mut Decoder,
    presets: &[Preset],
    out_dir: &Path,
    sinks: &mut [&mut dyn BlockSink],
    progress: &mut dyn FnMut(f64) -> Flow,
) -> Result<Vec<Rendition>, TranscodeError> {
    let source = decoder.format();
    thread::scope(|scope| {
        let mut feeders = Vec::with_capacity(presets.len() + sinks.len());
        let mut encoders = Vec::with_capacity(presets.len());
        for preset in presets {
            let (feeder, receiver) = Feeder::new(preset.clip().frames(source.sample_rate));
            feeders.push(feeder);
            encoders.push(scope.spawn(move || encode_lane(&receiver, preset, source, out_dir)));
        }
        let mut sink_lanes = Vec::with_capacity(sinks.len());
        for sink in sinks.iter_mut() {
            let (feeder, receiver) = Feeder::new(FrameWindow::ALL);
            feeders.push(feeder);
            sink_lanes.push(scope.spawn(move || sink_lane(&receiver, &mut **sink)));
        }
        let pumped = pump(decoder, &mut feeders, progress);
        // Consumers not sent `End` see their channel close, and abandon their output.
        drop(feeders);
        let renditions: Vec<_> = encoders
            .into_iter()
            .zip(presets)
            .map(|(handle, preset)| join_encoder(handle, preset))
            .collect();
        let sinks_done: Vec<_> = sink_lanes.into_iter().map(join_sink).collect();
        settle(pumped, renditions, sinks_done)
    })
}

fn pump(
    decoder: &mut Decoder,
    feeders: &mut [Feeder],
    progress: &mut dyn FnMut(f64) -> Flow,
) -> Result<(), Interrupt> {
    let expected = decoder.probe().duration.map(|duration| {
        (duration.as_secs_f64() * f64::from(decoder.format().sample_rate.hz())) as u64
    });
    let mut reporter = Reporter::new(progress, expected);
    loop {
        if reporter.report(decoder.frames_decoded()) == Flow::Stop {
            return Err(Interrupt::Stopped);
        }
        let Some(block) = decoder.next_block().map_err(Interrupt::Decode)? else {
            break;
        };
        let shared = Arc::new(block.clone());
        for feeder in feeders.iter_mut() {
            feeder.offer(&shared)?;
        }
        // Clips that all ended early (a preview alone) need no more decoding.
        if !feeders.iter().any(Feeder::is_open) {
            return Ok(());
        }
    }
    feeders.iter_mut().try_for_each(Feeder::end)
}

fn encode_lane(
    receiver: &Receiver<Feed>,
    preset: &Preset,
    source: AudioFormat,
    out_dir: &Path,
) -> Result<Rendition, LaneError> {
    let fail = |failure: Failure| LaneError::Failed(failure.for_preset(preset.name()));
    let layout = Layout::new(preset.name(), preset.container());
    let mut encoder = PresetEncoder::open(preset, source, &layout, out_dir).map_err(fail)?;
    let window = preset.clip().frames(source.sample_rate);
    let mut samples = 0;
    loop {
        match receiver.recv() {
            Ok(Feed::Block(block)) => {
                let part = window.cut(&block);
                encoder.push(part).map_err(fail)?;
                samples += part.len();
            }
            Ok(Feed::End) => break,
            Err(_) => return Err(LaneError::Aborted),
        }
    }
    if samples == 0 {
        return Err(LaneError::Failed(TranscodeError::ClipOutsideAudio {
            preset: preset.name().to_owned(),
        }));
    }
    encoder.finish().map_err(fail)?;
    let frames = samples / source.channels.as_usize();
    rendition(preset, source, &layout, out_dir, frames as u64).map_err(LaneError::Failed)
}

fn rendition(
    preset: &Preset,
    source: AudioFormat,
    layout: &Layout,
    out_dir: &Path,
    source_frames: u64,
) -> Result<Rendition, TranscodeError> {
    let files = layout
        .files(out_dir)
        .map_err(|error| TranscodeError::Write {
            preset: preset.name().to_owned(),
            step: "list files",
            cause: Box::new(error),
        })?;
    let target = preset.output_format(source);
    let seconds = source_frames as f64 / f64::from(source.sample_rate.hz());
    Ok(Rendition {
        preset: preset.name().to_owned(),
        mime: preset.mime().to_owned(),
        codec: preset.codec(),
        container: preset.container(),
        bit_rate: preset.bit_rate(),
        sample_rate: target.sample_rate.hz(),
        channels: target.channels.get(),
        duration: std::time::Duration::from_secs_f64(seconds),
        main: layout.main(),
        files,
    })
}

fn sink_lane(receiver: &Receiver<Feed>, sink: &mut dyn BlockSink) -> Result<(), LaneError> {
    let failed = |error| LaneError::Failed(TranscodeError::Sink(error));
    loop {
        match receiver.recv() {
            Ok(Feed::Block(block)) => sink.push(&block).map_err(failed)?,
            Ok(Feed::End) => return sink.finish().map_err(failed),
            Err(_) => return Err(LaneError::Aborted),
        }
    }
}

fn join_encoder(
    handle: ScopedJoinHandle<'_, Result<Rendition, LaneError>>,
    preset: &Preset,
) -> Result<Rendition, LaneError> {
    handle.join().unwrap_or_else(|_| {
        Err(LaneError::Failed(TranscodeError::Encode {
            preset: preset.name().to_owned(),
            step: "panicked",
            cause: "an encoder thread panicked".into(),
        }))
    })
}

fn join_sink(handle: ScopedJoinHandle<'_, Result<(), LaneError>>) -> Result<(), LaneError> {
    handle.join().unwrap_or_else(|_| {
        Err(LaneError::Failed(TranscodeError::Sink(SinkError::new(
            "a sink thread panicked",
        ))))
    })
}

/// The outcome of the run: the decoder's own failure or a stop comes first, then the first
/// consumer that failed.
fn settle(
    pumped: Result<(), Interrupt>,
    renditions: Vec<Result<Rendition, LaneError>>,
    sinks: Vec<Result<(), LaneError>>,
) -> Result<Vec<Rendition>, TranscodeError> {
    let sink_failure = sinks.into_iter().find_map(|done| match done {
        Err(LaneError::Failed(error)) => Some(error),
        _ => None,
    });
    let mut finished = Vec::with_capacity(renditions.len());
    let mut failure = None;
    for result in renditions {
        match result {
            Ok(rendition) => finished.push(rendition),
            Err(LaneError::Failed(error)) => failure = failure.or(Some(error)),
            Err(LaneError::Aborted) => {}
        }
    }
    match (pumped, failure.or(sink_failure)) {
        (Err(Interrupt::Decode(error)), _) => Err(error.into()),
        (Err(Interrupt::Stopped), _) => Err(TranscodeError::Stopped),
        (_, Some(error)) => Err(error),
        (Ok(()), None) => Ok(finished),
        // A consumer only hangs up by failing, so this is not expected.
        (Err(Interrupt::LaneGone), None) => Err(TranscodeError::Sink(SinkError::new(
            "a consumer stopped without saying why",
        ))),
    }
}
