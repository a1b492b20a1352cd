//! Mixdown's jobs: the job model shared by the API and the workers, and the
//! three stores behind them — the job record (Postgres | SQLite), the queue
//! (Redis | embedded) and the object store (S3 | directory).

pub mod backoff;
pub mod callbacks;
pub mod clock;
pub mod codes;
mod control;
pub mod db;
pub mod events;
pub mod http;
pub mod ids;
pub mod kind;
pub mod metrics;
pub mod model;
pub mod noop;
pub mod objects;
pub mod payload;
pub mod private_files;
pub mod queue;
pub mod redis_target;
pub mod result;
pub mod schedules;
pub mod seal;
pub mod settings;
pub mod social;
mod stores;
pub mod time;
pub mod tracks;
pub mod tus;
pub mod voice;
pub mod workflow;

pub use stores::Stores;
