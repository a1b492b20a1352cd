-- One schema for both engines: ids are TEXT (UUID v7), times are BIGINT Unix
-- milliseconds and JSON is TEXT, so the same statements run on Postgres and SQLite.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    key_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    kind TEXT NOT NULL,
    queue TEXT NOT NULL,
    state TEXT NOT NULL,
    payload TEXT NOT NULL,
    priority INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    -- Attempts each manual retry grants anew; attempts themselves never reset.
    attempt_budget INTEGER NOT NULL,
    progress DOUBLE PRECISION NOT NULL DEFAULT 0,
    run_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    result TEXT,
    error_code TEXT,
    error_message TEXT,
    parent_id TEXT,
    callback_url TEXT,
    idempotency_key TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    worker_id TEXT
);

CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_tenant_id ON jobs (tenant_id, id);
CREATE INDEX jobs_state_updated ON jobs (state, updated_at);
CREATE INDEX jobs_running_worker ON jobs (worker_id) WHERE state = 'running';

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    queues TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    hostname TEXT NOT NULL,
    pid BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
