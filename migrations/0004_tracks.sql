-- Tracks: an uploaded original and what its pipeline made of it. The state
-- column holds what the API and the handlers set (uploaded, processing,
-- ready); a failed track is one whose ingest or transcode job failed or was
-- cancelled, read from those jobs, so a retried job revives its track.
-- JSON columns are written whole by one statement each, so a reader never
-- sees half a result.
CREATE TABLE tracks (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    state TEXT NOT NULL,
    title TEXT,
    owner_id TEXT,
    callback_url TEXT,
    presets TEXT NOT NULL,
    original_key TEXT NOT NULL,
    -- Until when a presigned upload may still be completed.
    upload_expires_at BIGINT,
    ingest_job_id TEXT,
    transcode_job_id TEXT,
    metadata TEXT,
    cover_key TEXT,
    loudness TEXT,
    outputs TEXT,
    waveform TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tracks_tenant_id ON tracks (tenant_id, id);

-- Secrets the API replicas share without configuration: the key that signs
-- the download URLs the API serves itself.
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
