-- Schedules: a job template (kind, payload as a job row keeps it, priority,
-- attempts, callback) made into a job at each tick of a cron rule read in an
-- IANA zone. `next_run_at` is the first tick not yet fired; whoever moves it
-- on (a scheduler pass firing a tick, a tenant's change) does so only from
-- the value and `version` it read, so each tick is taken once.
CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    cron TEXT NOT NULL,
    timezone TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    priority INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    callback_url TEXT,
    catch_up TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    next_run_at BIGINT NOT NULL,
    last_tick BIGINT,
    version BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX schedules_tenant ON schedules (tenant_id, id);
-- What every scheduler pass reads: the due schedules, paused ones left out.
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE paused = 0;

-- A job a schedule made names it and its tick. The pair is unique: however
-- many passes race for a tick, one job is recorded for it. The second index
-- lists a schedule's jobs newest first.
ALTER TABLE jobs ADD COLUMN schedule_id TEXT;
ALTER TABLE jobs ADD COLUMN schedule_tick BIGINT;
CREATE UNIQUE INDEX jobs_schedule_tick ON jobs (schedule_id, schedule_tick)
    WHERE schedule_id IS NOT NULL;
CREATE INDEX jobs_schedule ON jobs (schedule_id, id) WHERE schedule_id IS NOT NULL;
