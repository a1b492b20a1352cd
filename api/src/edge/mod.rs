//! The API's edge against slow and flooding clients: the server's caps and
//! timeouts, paced request bodies, a cap on uploads running at once, and
//! per-tenant rate limits (with failed keys limited per address).

mod body;
mod gate;
mod limiter;
mod rate;
mod server;
mod watch;

use std::sync::Arc;

use mixdown_jobs::queue::Queue;
use tokio::sync::Semaphore;

pub(crate) use self::gate::{bearer, gate, takes_upload};
use self::{body::Pace, limiter::Limiter};
pub use self::{
    rate::RateLimit,
    server::{ServerLimits, serve},
};
use crate::settings::ApiSettings;

/// The limits every request of the API is held to; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    limiter: Limiter,
    /// A tenant's rate unless it has its own.
    rate: RateLimit,
    /// Failed authentications per client address.
    auth_failures: RateLimit,
    uploads: Arc<Semaphore>,
    pace: Pace,
}

impl Edge {
    /// The edge of an API over `queue` (its buckets live beside it).
    pub(crate) fn new(queue: &Queue, settings: &ApiSettings) -> Self {
        Self {
            limiter: Limiter::beside(queue),
            rate: settings.rate_limit,
            auth_failures: settings.auth_failure_rate,
            uploads: Arc::new(Semaphore::new(settings.max_concurrent_uploads)),
            pace: Pace {
                gap: settings.body_read_timeout_ms.get(),
                min_rate: settings.min_body_bytes_per_sec,
            },
        }
    }
}
