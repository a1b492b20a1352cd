//! One contract for every backend: the job store (Postgres, SQLite), the
//! queue (Redis, embedded) and the object store (S3, directory), each run
//! against the real service.

mod jobs;
mod objects;
mod queue;
