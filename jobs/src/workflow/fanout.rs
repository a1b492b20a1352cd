//! The fan-out workflow: `fanout → fanout_chunk × N → sum`.
//!
//! 1. **Plan**: the `fanout` job pages its actor's followers by keyset and
//!    records one `fanout_chunk` child per `chunk_size` followers, each
//!    naming its range of follower ids and weighing its follower count, so
//!    the parent's progress is the share of followers done. An actor with
//!    no more followers than one chunk takes is written by the `fanout` job
//!    itself, as its one chunk would be.
//! 2. **Chunks** run in parallel on any worker of the `fanout` queue. Each
//!    writes (or, for a retraction, deletes) its range's feed rows in one
//!    statement that skips existing rows, so a chunk killed half-way and run
//!    again writes nothing twice. Who is in a range is read when the chunk
//!    runs: a follower who unfollowed before their chunk ran gets nothing,
//!    one who followed before it ran gets the item.
//! 3. **Sum**: once every chunk has ended, the parent's result is the sum of
//!    theirs, or the error of the first chunk that did not succeed.

use serde::{Deserialize, Serialize};

use crate::{
    codes::ErrorCode,
    ids::ActivityId,
    model::{Job, JobError, JobState},
    social::UserId,
};

/// Which way an activity spreads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spread {
    /// Into every follower's feed.
    #[default]
    Publish,
    /// Out of every follower's feed (the activity was deleted).
    Retract,
}

/// Input of a `fanout` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanoutPayload {
    /// The activity to spread.
    pub activity_id: ActivityId,
    /// Into feeds or out of them.
    #[serde(default)]
    pub spread: Spread,
}

/// Input of a `fanout_chunk` job: the followers with ids in `(after, upto]`
/// (an absent bound is open).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkPayload {
    /// The activity to spread.
    pub activity_id: ActivityId,
    /// Into feeds or out of them.
    #[serde(default)]
    pub spread: Spread,
    /// Followers after this id.
    #[serde(default)]
    pub after: Option<UserId>,
    /// Followers up to and including this id.
    #[serde(default)]
    pub upto: Option<UserId>,
}

/// What a fan-out (or one chunk of it) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FanoutResult {
    /// Followers considered.
    pub recipients: u64,
    /// Feeds that hold the activity through this fan-out (rows a re-run
    /// found already written included).
    pub written: u64,
    /// Followers left out: they block the actor, the actor blocks them, or
    /// they mute the actor.
    pub skipped: u64,
    /// Feed rows taken out (a retraction).
    pub removed: u64,
}

impl std::ops::AddAssign for FanoutResult {
    fn add_assign(&mut self, other: Self) {
        self.recipients += other.recipients;
        self.written += other.written;
        self.skipped += other.skipped;
        self.removed += other.removed;
    }
}

/// How fan-outs cut their work and how long feeds grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedRules {
    /// Followers per chunk job.
    pub chunk_size: u32,
    /// Items a feed keeps (the newest).
    pub max_items: u32,
    /// One recipient in this many has their feed trimmed by a chunk, so a
    /// feed holds about this many items past `max_items` at most, and
    /// trimming costs one short index scan per this many rows written.
    pub trim_every: u32,
}

/// What the `fanout` job does next, given its children.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// No chunk yet: page the followers and record the chunks.
    Plan,
    /// A chunk was sent back to the queue meanwhile: wait for it again.
    Wait,
    /// Every chunk succeeded: the sum of their results.
    Done(FanoutResult),
    /// A chunk failed or was cancelled: its error.
    Failed(JobError),
    /// The fan-out was cancelled.
    Cancelled,
}

/// What follows, given every chunk the `fanout` job has and whether it was
/// asked to stop.
pub fn decide(chunks: &[Job], cancel_requested: bool) -> Decision {
    if cancel_requested {
        return Decision::Cancelled;
    }
    if chunks.is_empty() {
        return Decision::Plan;
    }
    if chunks.iter().any(|c| !c.state.is_final()) {
        return Decision::Wait;
    }
    let mut sum = FanoutResult::default();
    for chunk in chunks {
        if chunk.state != JobState::Succeeded {
            return Decision::Failed(chunk.error.clone().unwrap_or_else(|| {
                JobError::new(ErrorCode::Cancelled, "a fan-out chunk was cancelled")
            }));
        }
        let result = chunk.result.clone().unwrap_or_default();
        match serde_json::from_value::<FanoutResult>(result) {
            Ok(r) => sum += r,
            Err(e) => {
                let message = format!("fan-out chunk {} left no readable result: {e}", chunk.id);
                return Decision::Failed(JobError::new(ErrorCode::InternalError, message));
            }
        }
    }
    Decision::Done(sum)
}
