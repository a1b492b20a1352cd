//! How an attempt fails: each domain's error enum (noop, tracks, voice,
//! callbacks) says its catalogue code and whether another attempt may help,
//! and the runtime records it as the job's error.

use std::time::Duration;

use mixdown_jobs::{
    codes::{ErrorCode, error_chain},
    db::StoreError,
    model::JobError,
    objects::ObjectError,
};
use tracing::error;

/// A failure a job can end with.
pub(crate) trait Failure: std::error::Error {
    /// Its code in the catalogue.
    fn code(&self) -> ErrorCode;

    /// Whether a later attempt may succeed.
    fn retryable(&self) -> bool;

    /// Whether the attempt stopped because cancellation was asked for.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Why a handler did not produce a result, as the runtime records it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HandlerError {
    /// It stopped at a checkpoint because cancellation was requested.
    Cancelled,
    /// It failed; `retryable` says whether another attempt may succeed.
    Failed {
        /// What went wrong.
        error: JobError,
        /// Whether a later attempt may succeed.
        retryable: bool,
    },
}

impl<F: Failure> From<F> for HandlerError {
    fn from(failure: F) -> Self {
        if failure.cancelled() {
            return HandlerError::Cancelled;
        }
        let code = failure.code();
        HandlerError::Failed {
            error: JobError::new(code, told(&failure, code)),
            retryable: failure.retryable(),
        }
    }
}

/// Codes of failures of the fleet itself: their causes name its hosts,
/// addresses, buckets and paths, which are no tenant's business.
const FLEET_FAULTS: [ErrorCode; 4] = [
    ErrorCode::DatabaseUnavailable,
    ErrorCode::StorageUnavailable,
    ErrorCode::ScratchUnavailable,
    ErrorCode::InternalError,
];

/// What the job's owner is told of `failure`: its own sentence, or for a
/// fault of the fleet what its code means, the cause logged here in full.
fn told(failure: &dyn std::error::Error, code: ErrorCode) -> String {
    if !FLEET_FAULTS.contains(&code) {
        return failure.to_string();
    }
    error!(code = %code, error = %error_chain(failure), "attempt failed in the fleet");
    code.meaning().to_owned()
}

/// What every handler may meet beside its own domain: a store that is
/// briefly unreachable, or a fault of the worker's own.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Infra {
    /// The database failed: another attempt may find it back.
    #[error(transparent)]
    Database(#[from] StoreError),
    /// The object store failed: another attempt may find it back.
    #[error(transparent)]
    Storage(#[from] ObjectError),
    /// Work moved to a blocking thread panicked or was lost.
    #[error("a blocking task failed: {0}")]
    Blocking(String),
}

impl Failure for Infra {
    fn code(&self) -> ErrorCode {
        match self {
            Infra::Database(_) => ErrorCode::DatabaseUnavailable,
            Infra::Storage(_) => ErrorCode::StorageUnavailable,
            Infra::Blocking(_) => ErrorCode::InternalError,
        }
    }

    fn retryable(&self) -> bool {
        !matches!(self, Infra::Blocking(_))
    }
}

/// Lets `?` turn store errors into a domain error that wraps [`Infra`].
macro_rules! infra_from {
    ($domain:ty) => {
        impl From<mixdown_jobs::db::StoreError> for $domain {
            fn from(err: mixdown_jobs::db::StoreError) -> Self {
                Self::Infra(crate::failure::Infra::Database(err))
            }
        }
        impl From<mixdown_jobs::objects::ObjectError> for $domain {
            fn from(err: mixdown_jobs::objects::ObjectError) -> Self {
                Self::Infra(crate::failure::Infra::Storage(err))
            }
        }
    };
}
pub(crate) use infra_from;

/// How the runtime itself ends an attempt that its handler did not.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AttemptFailure {
    /// The attempt ran past its kind's time limit.
    #[error("attempt ran past {0:?}")]
    Timeout(Duration),
    /// The handler panicked.
    #[error("the handler panicked")]
    Panicked,
}

impl Failure for AttemptFailure {
    fn code(&self) -> ErrorCode {
        match self {
            AttemptFailure::Timeout(_) => ErrorCode::Timeout,
            AttemptFailure::Panicked => ErrorCode::InternalError,
        }
    }

    fn retryable(&self) -> bool {
        matches!(self, AttemptFailure::Timeout(_))
    }
}
