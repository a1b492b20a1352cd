-- Callbacks: the `callback` job that reports a job's end, once per end. A retry
-- clears it, so the next end is reported again. The partial index holds only
-- jobs whose end is still to be reported (and those still running).
ALTER TABLE jobs ADD COLUMN callback_job_id TEXT;
CREATE INDEX jobs_callback_due ON jobs (finished_at)
    WHERE callback_url IS NOT NULL AND callback_job_id IS NULL;
