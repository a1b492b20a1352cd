//! The `fanout` and `fanout_chunk` jobs: carry out what the fan-out
//! workflow decides (`mixdown_jobs::social::fanout`).

use mixdown_jobs::{
    codes::ErrorCode,
    events::Event,
    ids::ActivityId,
    model::JobError,
    payload::JobPayload,
    social::{Activity, ChunkPayload, FanoutPayload, FanoutResult, FeedRules, Spread, UserId},
    workflow::{
        Child, Next, Weight,
        fanout::{Decision, decide},
    },
};
use tokio::sync::Semaphore;
use tracing::info;

use super::JobContext;
use crate::{
    WorkerSettings,
    failure::{Failure, Infra, infra_from},
};

/// Why a fan-out or one of its chunks did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FanoutError {
    /// The activity is not recorded for the job's tenant.
    #[error("no activity {0} for this tenant")]
    Missing(ActivityId),
    /// A chunk ended without success: its error.
    #[error("{}", .0.message)]
    Chunk(JobError),
    /// Cancelled.
    #[error("cancelled")]
    Cancelled,
    /// A store failed.
    #[error(transparent)]
    Infra(Infra),
}

infra_from!(FanoutError);

impl Failure for FanoutError {
    fn code(&self) -> ErrorCode {
        match self {
            FanoutError::Missing(_) => ErrorCode::ActivityMissing,
            FanoutError::Chunk(error) => error.code,
            FanoutError::Cancelled => ErrorCode::Cancelled,
            FanoutError::Infra(e) => e.code(),
        }
    }

    fn retryable(&self) -> bool {
        match self {
            FanoutError::Infra(e) => e.retryable(),
            _ => false,
        }
    }

    fn cancelled(&self) -> bool {
        matches!(self, FanoutError::Cancelled)
    }
}

/// How this worker's fan-outs run: the rules, and the slots of its chunk
/// writes. Chunks of a large fan-out are database-bound: past about one per
/// database core, more at once only contend for its locks and log, so they
/// queue for a slot here while small fan-outs (written by their own job)
/// keep the queue's whole concurrency.
#[derive(Debug)]
pub(crate) struct FanoutRuntime {
    /// How fan-outs cut their work and how long feeds grow.
    pub rules: FeedRules,
    writes: Semaphore,
}

impl FanoutRuntime {
    /// The fan-out part of a worker's settings.
    pub(crate) fn new(settings: &WorkerSettings) -> Self {
        Self {
            rules: settings.feed_rules(),
            writes: Semaphore::new(settings.fanout_parallel_writes.get() as usize),
        }
    }
}

async fn load(ctx: &JobContext, id: ActivityId) -> Result<Activity, FanoutError> {
    let activity = ctx.stores.db.feeds.activity(ctx.job.tenant_id, id).await?;
    activity.ok_or(FanoutError::Missing(id))
}

/// The `fanout` job: plans its chunks, then sums what they did.
pub(crate) async fn advance(p: &FanoutPayload, ctx: &JobContext) -> Result<Next, FanoutError> {
    let children = ctx.stores.db.jobs.children(ctx.job.id).await?;
    match decide(&children, ctx.cancel.is_cancelled()) {
        Decision::Plan => {
            let activity = load(ctx, p.activity_id).await?;
            let feeds = &ctx.stores.db.feeds;
            let actor = &activity.item.actor_id;
            let ranges = feeds
                .follower_ranges(ctx.job.tenant_id, actor, ctx.feeds.rules.chunk_size)
                .await?;
            // Most actors have fewer followers than a chunk: the job writes them
            // itself, one job instead of a parent, a child and a second run.
            if let [only] = ranges.as_slice() {
                let (after, upto) = (only.after.as_ref(), only.upto.as_ref());
                return Ok(spread(ctx, &activity, p.spread, after, upto).await?.into());
            }
            let followers: u64 = ranges.iter().map(|r| r.count).sum();
            info!(followers, chunks = ranges.len(), "fan-out planned");
            let chunks = ranges
                .into_iter()
                .enumerate()
                .map(|(i, range)| Child {
                    step: format!("chunk {i}"),
                    weight: followers_weight(range.count),
                    payload: JobPayload::FanoutChunk(ChunkPayload {
                        activity_id: p.activity_id,
                        spread: p.spread,
                        after: range.after,
                        upto: range.upto,
                    }),
                })
                .collect();
            Ok(Next::Await(chunks))
        }
        Decision::Wait => Ok(Next::Await(Vec::new())),
        Decision::Done(result) => {
            info!(
                recipients = result.recipients,
                written = result.written,
                skipped = result.skipped,
                removed = result.removed,
                "fan-out done"
            );
            Ok(result.into())
        }
        Decision::Failed(error) => Err(FanoutError::Chunk(error)),
        Decision::Cancelled => Err(FanoutError::Cancelled),
    }
}

/// A chunk weighs its followers, so the parent's progress is the share of
/// followers done; an empty last range still weighs one, so it counts.
fn followers_weight(count: u64) -> Weight {
    Weight::new(count.max(1) as f64).expect("a count of at least one is a weight")
}

/// One `fanout_chunk` job: spreads its range.
pub(crate) async fn chunk(p: &ChunkPayload, ctx: &JobContext) -> Result<FanoutResult, FanoutError> {
    let activity = load(ctx, p.activity_id).await?;
    let _slot = ctx.feeds.writes.acquire().await;
    spread(ctx, &activity, p.spread, p.after.as_ref(), p.upto.as_ref()).await
}

/// Writes or deletes the feed rows of `activity` for its actor's followers
/// in `(after, upto]`, and tells live subscribers about the rows inserted.
async fn spread(
    ctx: &JobContext,
    activity: &Activity,
    way: Spread,
    after: Option<&UserId>,
    upto: Option<&UserId>,
) -> Result<FanoutResult, FanoutError> {
    let feeds = &ctx.stores.db.feeds;
    match way {
        Spread::Publish => {
            let first = ctx.job.attempt == 1;
            let written = feeds
                .write_chunk(activity, after, upto, ctx.feeds.rules, first)
                .await?;
            if !written.inserted.is_empty() {
                let item = serde_json::to_value(&activity.item).unwrap_or_default();
                let event = Event::FeedItems {
                    item,
                    user_ids: written.inserted,
                };
                ctx.stores.events.publish(ctx.job.tenant_id, &[event]).await;
            }
            Ok(written.result)
        }
        Spread::Retract => Ok(feeds.retract_chunk(activity, after, upto).await?),
    }
}
