//! One handler per job kind, chosen by the payload's type, and what a
//! handler gets besides its payload.

pub(crate) mod callback;
pub(crate) mod fanout;
pub(crate) mod http;
mod noop;
pub(crate) mod outbound;
pub(crate) mod tracks;
pub(crate) mod voice;

use std::sync::Arc;

use mixdown_jobs::{
    Stores, db::ClaimedJob, ids::WorkerId, payload::JobPayload, tracks::TranscodePayload,
    workflow::Next,
};
use tokio_util::sync::CancellationToken;
use tracing::Span;

use self::{
    fanout::FanoutRuntime, http::HttpRuntime, outbound::Outbound, tracks::TrackSettings,
    voice::VoiceRuntime,
};
use crate::failure::{HandlerError, Infra};

/// The running attempt as a handler sees it.
#[derive(Debug, Clone)]
pub(crate) struct JobContext {
    /// The claimed job.
    pub job: ClaimedJob,
    /// Fires when the client asked to cancel the job.
    pub cancel: CancellationToken,
    /// The process running it.
    pub worker_id: WorkerId,
    /// Whether `noop` faults (crash, hog a thread) are honoured.
    pub fault_injection: bool,
    /// The stores, for handlers that read inputs and write results.
    pub stores: Stores,
    /// The voice engine and its settings, on workers that run voice queues.
    pub voice: Option<Arc<VoiceRuntime>>,
    /// Limits and scratch space of the track handlers.
    pub tracks: Arc<TrackSettings>,
    /// The client of callbacks and `http` jobs, and where they may go.
    pub outbound: Arc<Outbound>,
    /// The keys, limits and deferral of `http` jobs.
    pub http: Arc<HttpRuntime>,
    /// How fan-outs cut their work, how long feeds grow, and the slots
    /// of this worker's chunk writes.
    pub feeds: Arc<FanoutRuntime>,
}

/// Runs the handler of the job's kind.
pub(crate) async fn run(ctx: &JobContext) -> Result<Next, HandlerError> {
    Ok(match &ctx.job.payload {
        JobPayload::Noop(p) => noop::run(p, ctx).await?.into(),
        JobPayload::VoiceEnroll(p) => voice::enroll(p, ctx).await?.into(),
        JobPayload::VoiceVerify(p) => voice::verify(p, ctx).await?.into(),
        JobPayload::Ingest(p) => tracks::ingest(p, ctx).await?.into(),
        JobPayload::Transcode(TranscodePayload::Workflow(p)) => {
            tracks::transcode(p, ctx).await?.into()
        }
        JobPayload::Transcode(TranscodePayload::Renditions(p)) => {
            tracks::renditions(p, ctx).await?.into()
        }
        JobPayload::Waveform(p) => tracks::waveform(p, ctx).await?.into(),
        JobPayload::Analyze(p) => tracks::analyze(p, ctx).await?.into(),
        JobPayload::Track(p) => tracks::advance(p, ctx).await?,
        JobPayload::Callback(p) => callback::run(p, ctx).await?.into(),
        JobPayload::Fanout(p) => fanout::advance(p, ctx).await?,
        JobPayload::FanoutChunk(p) => fanout::chunk(p, ctx).await?.into(),
        JobPayload::Http(p) => http::run(p, ctx).await?,
    })
}

/// Runs `work` on a blocking thread inside the job's span, so CPU-heavy
/// work never stalls the other attempts of its queue.
pub(crate) async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<Infra> + Send + 'static,
{
    let span = Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|e| E::from(Infra::Blocking(e.to_string())))?
}
