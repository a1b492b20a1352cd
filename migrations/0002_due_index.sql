-- The oldest due job per queue (an autoscaling signal) is read at every
-- metrics scrape: keep it an index lookup however long the backlog.
CREATE INDEX jobs_queued_due ON jobs (queue, run_at) WHERE state = 'queued';
