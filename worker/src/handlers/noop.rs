//! The `noop` kind: sleeps, then fails its first N attempts. It measures the
//! queue itself and checks a fleet end to end; with fault injection enabled
//! it can also crash its process or hog its thread, to prove recovery.

use std::time::Duration;

use mixdown_jobs::kind::NoopPayload;
use serde_json::{Value, json};

use crate::context::{HandlerError, JobContext};

pub(crate) async fn run(payload: &NoopPayload, ctx: &JobContext) -> Result<Value, HandlerError> {
    let attempt = ctx.job.attempt;
    if payload.injects_faults() {
        if !ctx.fault_injection {
            return Err(HandlerError::failed(
                "fault_injection_disabled",
                "this worker does not honour abort_attempts or block_ms",
                false,
            ));
        }
        if u64::from(attempt) <= payload.abort_attempts.get() {
            tracing::error!("aborting the process on request (fault injection)");
            std::process::abort();
        }
        // Deliberately on the executor thread: the point is to show that a
        // hogged executor does not silence the heartbeat.
        std::thread::sleep(Duration::from_millis(payload.block_ms.get()));
    }
    let sleep = Duration::from_millis(payload.sleep_ms.get());
    if !sleep.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = ctx.cancel.cancelled() => return Err(HandlerError::Cancelled),
        }
    }
    if u64::from(attempt) <= payload.fail_attempts.get() {
        return Err(HandlerError::failed(
            "noop_failure",
            format!("attempt {attempt} fails on request"),
            !payload.fail_permanently,
        ));
    }
    Ok(json!({
        "slept_ms": payload.sleep_ms.get(),
        "attempt": attempt,
        "worker_id": ctx.worker_id.as_str(),
    }))
}
