-- Workflows: a job may have children that it waits for (state 'waiting')
-- until each has ended. A child's weight is its share of its parent's work;
-- a parent's planned weight is what its workflow plans for all its children.
ALTER TABLE jobs ADD COLUMN child_weight DOUBLE PRECISION;
ALTER TABLE jobs ADD COLUMN planned_weight DOUBLE PRECISION NOT NULL DEFAULT 0;
CREATE INDEX jobs_children ON jobs (parent_id) WHERE child_weight IS NOT NULL;
CREATE INDEX jobs_waiting ON jobs (updated_at) WHERE state = 'waiting';

-- A track's pipeline is its workflow's `track` job; the track stores its own
-- end, failed included, instead of naming its ingest and transcode jobs.
ALTER TABLE tracks ADD COLUMN job_id TEXT;
ALTER TABLE tracks ADD COLUMN error_code TEXT;
ALTER TABLE tracks ADD COLUMN error_message TEXT;
CREATE INDEX tracks_job ON tracks (job_id);

-- Tracks recorded before: each gets a `track` job under the track's own id.
-- A ready track's job has succeeded and reports nothing more than its jobs
-- did; any other waits, and the reconciler wakes it once its jobs have ended,
-- so that it stores the track's end.
INSERT INTO jobs (id, tenant_id, kind, queue, state, payload, priority, attempts, max_attempts,
                  attempt_budget, progress, run_at, created_at, updated_at, finished_at,
                  callback_url, callback_job_id, planned_weight)
SELECT t.id, t.tenant_id, 'track', 'track',
       CASE WHEN t.state = 'ready' THEN 'succeeded' ELSE 'waiting' END,
       '{"track_id":"' || t.id || '"}', 0, 0, 3, 3,
       CASE WHEN t.state = 'ready' THEN 1 ELSE 0 END,
       t.updated_at, t.created_at, t.updated_at,
       CASE WHEN t.state = 'ready' THEN t.updated_at ELSE NULL END,
       t.callback_url,
       (SELECT j.callback_job_id FROM jobs j
        WHERE j.id IN (t.ingest_job_id, t.transcode_job_id) AND j.callback_job_id IS NOT NULL
        ORDER BY j.finished_at DESC LIMIT 1),
       20
FROM tracks t WHERE t.ingest_job_id IS NOT NULL;

UPDATE jobs SET
    parent_id = (SELECT t.id FROM tracks t
                 WHERE t.ingest_job_id = jobs.id OR t.transcode_job_id = jobs.id),
    child_weight = CASE WHEN kind = 'ingest' THEN 1 ELSE 19 END,
    callback_url = NULL
WHERE kind IN ('ingest', 'transcode') AND EXISTS
    (SELECT 1 FROM tracks t WHERE t.ingest_job_id = jobs.id OR t.transcode_job_id = jobs.id);

UPDATE tracks SET job_id = id WHERE ingest_job_id IS NOT NULL;

ALTER TABLE tracks DROP COLUMN ingest_job_id;
ALTER TABLE tracks DROP COLUMN transcode_job_id;
