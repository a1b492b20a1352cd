//! One handler per job kind, chosen by the payload's type.

mod noop;
pub(crate) mod voice;

use mixdown_jobs::kind::JobPayload;
use serde_json::Value;

use crate::context::{HandlerError, JobContext};

/// Runs the handler of the job's kind.
pub(crate) async fn run(ctx: &JobContext) -> Result<Value, HandlerError> {
    match &ctx.job.payload {
        JobPayload::Noop(p) => noop::run(p, ctx).await,
        JobPayload::VoiceEnroll(p) => voice::enroll(p, ctx).await,
        JobPayload::VoiceVerify(p) => voice::verify(p, ctx).await,
    }
}
