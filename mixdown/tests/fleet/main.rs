//! The `mixdown` binary as users and ops run it, in real processes over real
//! Postgres, Redis and S3: the roles and their starts, the runtime's promises
//! under crashes, restarts and drains, a chaos run, and in a headless
//! browser the operators' dashboard and the playback of outputs. One test
//! binary, so one link serves every test.

mod chaos;
mod dashboard;
mod drain;
mod edge;
mod fairness;
mod harness;
mod keys;
mod outbound;
mod playback;
mod recovery;
mod roles;
mod runtime;
mod schedules;
mod social;
mod tus;
