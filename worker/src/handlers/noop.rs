//! The `noop` kind: sleeps, then fails its first N attempts. It measures the
//! queue itself and checks a fleet end to end.

use std::time::Duration;

use mixdown_jobs::kind::NoopPayload;
use serde_json::{Value, json};

use crate::context::{HandlerError, JobContext};

pub(crate) async fn run(payload: &NoopPayload, ctx: &JobContext) -> Result<Value, HandlerError> {
    let sleep = Duration::from_millis(payload.sleep_ms.get());
    if !sleep.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = ctx.cancel.cancelled() => return Err(HandlerError::Cancelled),
        }
    }
    let attempt = ctx.job.attempt;
    if u64::from(attempt) <= payload.fail_attempts.get() {
        return Err(HandlerError::failed(
            "noop_failure",
            format!("attempt {attempt} fails on request"),
            true,
        ));
    }
    Ok(json!({
        "slept_ms": payload.sleep_ms.get(),
        "attempt": attempt,
        "worker_id": ctx.worker_id.as_str(),
    }))
}
