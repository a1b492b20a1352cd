-- The callback outbox's index holds exactly what its scan reads: ended jobs
-- whose end is still to be reported. The index it replaces also held every
-- queued and running job with a callback URL (finished_at NULL), which a
-- pass with fewer due reports than its limit read through each time.
DROP INDEX IF EXISTS jobs_callback_due;
CREATE INDEX jobs_callback_unreported ON jobs (finished_at)
    WHERE callback_url IS NOT NULL AND callback_job_id IS NULL
    AND state IN ('succeeded', 'failed', 'cancelled');
