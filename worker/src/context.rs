//! What a handler gets besides its payload, and what it may answer.

use std::sync::Arc;

use mixdown_jobs::{
    Stores,
    db::{ClaimedJob, StoreError},
    ids::WorkerId,
    model::JobError,
    objects::ObjectError,
};
use tokio_util::sync::CancellationToken;

use crate::handlers::{callback::CallbackClient, tracks::TrackSettings, voice::VoiceRuntime};

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
    /// The client that delivers callbacks, and where they may go.
    pub callbacks: Arc<CallbackClient>,
}

/// Why a handler did not produce a result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum HandlerError {
    /// It stopped at a checkpoint because cancellation was requested.
    #[error("cancelled")]
    Cancelled,
    /// It failed; `retryable` says whether another attempt may succeed.
    #[error("{}: {}", error.code, error.message)]
    Failed {
        /// What went wrong.
        error: JobError,
        /// Whether a later attempt may succeed.
        retryable: bool,
    },
}

impl HandlerError {
    /// A failure with a stable code and a sentence.
    pub fn failed(code: &str, message: impl Into<String>, retryable: bool) -> Self {
        HandlerError::Failed {
            error: JobError {
                code: code.to_owned(),
                message: message.into(),
            },
            retryable,
        }
    }

    /// The job store failed: another attempt may find it back.
    pub fn database(err: StoreError) -> Self {
        Self::failed("database_unavailable", err.to_string(), true)
    }

    /// The object store failed: another attempt may find it back.
    pub fn storage(err: ObjectError) -> Self {
        Self::failed("storage_unavailable", err.to_string(), true)
    }
}
