//! The `noop` kind: sleeps, then fails its first N attempts. It measures the
//! queue itself and checks a fleet end to end; with fault injection enabled
//! it can also crash its process or hog its thread, to prove recovery.

use std::time::Duration;

use mixdown_jobs::{
    codes::ErrorCode,
    noop::{NoopPayload, NoopResult},
};

use super::JobContext;
use crate::failure::Failure;

/// Why a `noop` attempt did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NoopError {
    /// It asked for a fault this worker does not inject.
    #[error("this worker does not honour abort_attempts or block_ms")]
    FaultInjectionDisabled,
    /// It fails this attempt on request.
    #[error("attempt {attempt} fails on request")]
    OnRequest {
        /// The attempt.
        attempt: u32,
        /// Whether the payload said the failure is for good.
        permanent: bool,
    },
    /// Cancelled while sleeping.
    #[error("cancelled")]
    Cancelled,
}

impl Failure for NoopError {
    fn code(&self) -> ErrorCode {
        match self {
            NoopError::FaultInjectionDisabled => ErrorCode::FaultInjectionDisabled,
            NoopError::OnRequest { .. } | NoopError::Cancelled => ErrorCode::NoopFailure,
        }
    }

    fn retryable(&self) -> bool {
        matches!(
            self,
            NoopError::OnRequest {
                permanent: false,
                ..
            }
        )
    }

    fn cancelled(&self) -> bool {
        matches!(self, NoopError::Cancelled)
    }
}

pub(crate) async fn run(payload: &NoopPayload, ctx: &JobContext) -> Result<NoopResult, NoopError> {
    let attempt = ctx.job.attempt;
    if payload.injects_faults() {
        if !ctx.fault_injection {
            return Err(NoopError::FaultInjectionDisabled);
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
            () = ctx.cancel.cancelled() => return Err(NoopError::Cancelled),
        }
    }
    if u64::from(attempt) <= payload.fail_attempts.get() {
        return Err(NoopError::OnRequest {
            attempt,
            permanent: payload.fail_permanently,
        });
    }
    Ok(NoopResult {
        slept_ms: payload.sleep_ms.get(),
        attempt,
        worker_id: ctx.worker_id.as_str().to_owned(),
    })
}
