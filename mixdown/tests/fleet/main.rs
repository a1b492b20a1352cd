//! The `mixdown` binary as users and ops run it, in real processes over real
//! Postgres, Redis and S3: the roles and their starts, the runtime's promises
//! under crashes, restarts and drains, and a chaos run. One test binary, so
//! one link serves every test.

mod chaos;
mod drain;
mod fairness;
mod harness;
mod recovery;
mod roles;
mod runtime;
mod schedules;
mod social;
