//! Mixdown's worker: takes job ids from the queue, claims them in the job
//! store, runs them, records how each attempt ended, beats its heart,
//! reconciles the queue with the record, and fires due schedules.

mod execute;
mod failure;
mod fetch;
mod handlers;
mod heartbeat;
mod janitor;
mod reconciler;
mod recorder;
mod runtime;
mod scheduler;
mod settings;
mod stepper;

pub use janitor::JanitorSettings;
pub use reconciler::{Reconciler, ReconcilerSettings};
pub use runtime::{WorkerError, WorkerPlan, run_worker};
pub use settings::{Concurrency, MaxChannels, MaxSampleRate, WorkerSettings};
pub use stepper::Stepper;
