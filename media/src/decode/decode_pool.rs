//! Packets of codecs that keep no state from one packet to the next (FLAC, PCM) decoded on
//! threads of their own, a few ahead of the caller, and handed back in order.
//!
//! symphonia's FLAC decoder was about three quarters of the instructions of a FLAC
//! waveform, all on the one thread that then drew the peaks. FLAC frames decode on their
//! own, so each decoding thread gets a decoder of its own and every other packet; the calling
//! thread only demuxes and consumes, and two cores decode at twice the pace of one.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::{self, JoinHandle};

use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::packet::Packet;
use symphonia::default::get_codecs;

use super::block::PcmBlock;
use super::error::DecodeError;
use super::symphonia_reader::{DecodeScratch, contained, corrupt};

/// Decoding threads at most: the calling thread consumes what two decode, and more threads than
/// cores only queue.
const MAX_LANES: usize = 2;

/// Packets handed out per decoding thread before the caller waits for the first of them: enough
/// that a decoding thread never idles while the caller consumes a block.
const PACKETS_PER_LANE: usize = 2;

/// A packet to decode and the block to decode it into.
struct Job {
    packet: Packet,
    block: PcmBlock,
}

/// One decoding thread and its two channels.
struct Lane {
    jobs: Option<Sender<Job>>,
    done: Receiver<Result<PcmBlock, DecodeError>>,
    thread: Option<JoinHandle<()>>,
}

/// Decoding threads working through packets in the order they are given.
pub(super) struct DecodePool {
    lanes: Vec<Lane>,
    /// Lane of the next packet handed out, and of the next block expected back: packets
    /// go round the lanes and each lane answers in order, so blocks return in order.
    next_job: usize,
    next_done: usize,
    in_flight: usize,
    spare: Vec<PcmBlock>,
}

impl DecodePool {
    /// One decoding thread per core, two at most, each with a decoder for `params`; `None` on a
    /// single core, where they would only take turns with the caller.
    pub(super) fn start(params: &AudioCodecParameters) -> Result<Option<Self>, DecodeError> {
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        if cores < 2 {
            return Ok(None);
        }
        let mut lanes = Vec::with_capacity(MAX_LANES);
        while lanes.len() < MAX_LANES.min(cores) {
            let decoder = get_codecs()
                .make_audio_decoder(params, &AudioDecoderOptions::default())
                .map_err(|error| corrupt(&error))?;
            lanes.push(Lane::spawn(decoder)?);
        }
        Ok(Some(Self {
            lanes,
            next_job: 0,
            next_done: 0,
            in_flight: 0,
            spare: Vec::new(),
        }))
    }

    /// Whether another packet may be handed out before one is taken back.
    pub(super) fn has_room(&self) -> bool {
        self.in_flight < self.lanes.len() * PACKETS_PER_LANE
    }

    /// Whether any packet handed out has not been taken back.
    pub(super) fn is_busy(&self) -> bool {
        self.in_flight > 0
    }

    /// Hands `packet` to the next lane, to be decoded into a block shaped like `like`
    /// (its format, and whether it fills the `f32` view).
    pub(super) fn send(&mut self, packet: Packet, like: &PcmBlock) -> Result<(), DecodeError> {
        let mut block = self.spare.pop().unwrap_or_else(|| like.empty_like());
        block.adopt_views(like);
        let lane = &self.lanes[self.next_job];
        let jobs = lane.jobs.as_ref().ok_or_else(lane_gone)?;
        jobs.send(Job { packet, block }).map_err(|_| lane_gone())?;
        self.next_job = (self.next_job + 1) % self.lanes.len();
        self.in_flight += 1;
        Ok(())
    }

    /// The block of the oldest packet handed out, swapped into `block`, whose old contents
    /// are kept for reuse; `block` keeps the views it had (see [`PcmBlock::adopt_views`]).
    pub(super) fn receive(&mut self, block: &mut PcmBlock) -> Result<(), DecodeError> {
        let lane = &self.lanes[self.next_done];
        let mut decoded = lane.done.recv().map_err(|_| lane_gone())??;
        self.next_done = (self.next_done + 1) % self.lanes.len();
        self.in_flight -= 1;
        decoded.adopt_views(block);
        std::mem::swap(block, &mut decoded);
        self.spare.push(decoded);
        Ok(())
    }
}

impl Lane {
    fn spawn(mut decoder: Box<dyn AudioDecoder>) -> Result<Self, DecodeError> {
        let (jobs, job_receiver) = channel::<Job>();
        let (done_sender, done) = channel();
        let thread = thread::Builder::new()
            .name("mixdown-decode".to_owned())
            .spawn(move || serve(decoder.as_mut(), &job_receiver, &done_sender))?;
        Ok(Self {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        })
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        // Closing the job channel ends the thread after its current packet.
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            // A thread that panicked outside `contained` has nothing left to clean up.
            let _ = thread.join();
        }
    }
}

/// A decoding thread's loop: decodes each job's packet into its block and sends the block back.
fn serve(
    decoder: &mut dyn AudioDecoder,
    jobs: &Receiver<Job>,
    done: &Sender<Result<PcmBlock, DecodeError>>,
) {
    let mut scratch = DecodeScratch::default();
    while let Ok(Job { packet, mut block }) = jobs.recv() {
        let decoded = contained(|| scratch.decode(decoder, &packet, &mut block, 0));
        if done.send(decoded.map(|_| block)).is_err() {
            return;
        }
    }
}

/// A lane whose thread is gone has panicked past `contained`, which only a bug does.
fn lane_gone() -> DecodeError {
    DecodeError::Corrupt("a decoding thread stopped".to_owned())
}
