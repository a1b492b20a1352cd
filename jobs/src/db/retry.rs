//! Retrying a job by hand: the job (or a parent's failed children) runs
//! again, and the workflow it belongs to is reopened, which each workflow
//! shows in its own way; both in one transaction.

use super::{
    Database, StoreError,
    jobs::{Retried, RetryOutcome, retry_in},
    tracks,
};
use crate::{
    ids::{JobId, TenantId},
    kind::JobKind,
};

impl Database {
    /// Runs a failed or cancelled job again with a fresh budget of attempts
    /// (a parent: its failed children), and reopens the workflow it belongs
    /// to: a track is `processing` again until its next finalize.
    pub async fn retry(&self, tenant: TenantId, id: JobId) -> Result<RetryOutcome, StoreError> {
        let mut tx = self.conn.begin().await?;
        let Some(Retried {
            job,
            mut entries,
            reopened,
        }) = retry_in(&mut tx, tenant, id, self.conn.clock.now()).await?
        else {
            tx.rollback().await?;
            return Ok(match self.jobs.get(tenant, id).await? {
                Some(job) => RetryOutcome::NotRetryable(job),
                None => RetryOutcome::NotFound,
            });
        };
        for (workflow, kind) in &reopened {
            if *kind == JobKind::Track {
                tracks::reopen(&mut tx, *workflow, self.conn.clock.now()).await?;
            }
        }
        tx.commit().await?;
        let parents: Vec<JobId> = reopened.iter().map(|(id, _)| *id).collect();
        entries.extend(self.jobs.settle(&parents).await?);
        Ok(RetryOutcome::Requeued(job, entries))
    }
}
