//! One handler per job kind, chosen by the payload's type.

pub(crate) mod callback;
mod noop;
pub(crate) mod tracks;
pub(crate) mod voice;

use mixdown_jobs::kind::JobPayload;
use serde_json::Value;
use tracing::Span;

use crate::context::{HandlerError, JobContext};

/// Runs the handler of the job's kind.
pub(crate) async fn run(ctx: &JobContext) -> Result<Value, HandlerError> {
    match &ctx.job.payload {
        JobPayload::Noop(p) => noop::run(p, ctx).await,
        JobPayload::VoiceEnroll(p) => voice::enroll(p, ctx).await,
        JobPayload::VoiceVerify(p) => voice::verify(p, ctx).await,
        JobPayload::Ingest(p) => tracks::ingest(p, ctx).await,
        JobPayload::Transcode(p) => tracks::transcode(p, ctx).await,
        JobPayload::Callback(p) => callback::run(p, ctx).await,
    }
}

/// Runs `work` on a blocking thread inside the job's span, so CPU-heavy
/// work never stalls the other attempts of its queue.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, HandlerError> + Send + 'static,
) -> Result<T, HandlerError> {
    let span = Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|e| HandlerError::failed("internal_error", e.to_string(), false))?
}
