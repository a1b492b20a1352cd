//! Workflows: jobs with children. A parent's run may end by recording
//! children instead of a result ([`Next::Await`]); the parent then waits
//! (stored `waiting`, shown to clients as running) until every child has
//! ended, however it ended, and runs again to decide what follows: more
//! children, or its own end. Its progress is its children's, each weighted
//! by its share of the work.
//!
//! The mechanism is the database's (`db::jobs::family`): children are
//! recorded with their parent's state change in one transaction, the last
//! child to end wakes the parent (and the reconciler wakes any parent a
//! crash left asleep), cancelling a parent cancels its children, and
//! retrying a child of a parent that has ended reopens the parent. Each
//! workflow's own rules — its steps, what follows what, its client-visible
//! state and what it reports — live in one module here.

pub mod fanout;
pub mod track;

pub use crate::model::{Child, Weight};
use crate::result::JobResult;

/// A workflow as first recorded: its parent, what the parent's children
/// will weigh in all, and the children it starts with.
#[derive(Debug, Clone)]
pub struct Start {
    /// The parent; it waits for `children` from the start.
    pub parent: crate::model::NewJob,
    /// The weight of every child the workflow plans, so that progress does
    /// not jump back when a later child is recorded.
    pub planned: Weight,
    /// The children that run first.
    pub children: Vec<Child>,
}

/// What a run of a job decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Done, with this result.
    Done(JobResult),
    /// Record these children and wait for them to end.
    Await(Vec<Child>),
    /// Not now (what it needs is busy): back to the queue until then,
    /// without spending an attempt.
    Defer(crate::time::Timestamp),
}

impl<T: Into<JobResult>> From<T> for Next {
    fn from(result: T) -> Self {
        Next::Done(result.into())
    }
}
