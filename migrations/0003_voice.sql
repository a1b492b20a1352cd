-- Voiceprints, sealed at rest: the print itself is AES-256-GCM ciphertext
-- (base64) under the key named by key_id; the summary columns are what
-- GET /v1/voice/{user_id} shows without opening it.
CREATE TABLE voiceprints (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    user_id TEXT NOT NULL,
    model TEXT NOT NULL,
    samples INTEGER NOT NULL,
    speech_seconds DOUBLE PRECISION NOT NULL,
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
-- Rotation progress: how many rows each key still seals.
CREATE INDEX voiceprints_key ON voiceprints (key_id);

-- One row per scored verification, keyed by its job so a re-run adds none;
-- the lockout counts the rejected ones of the recent past.
CREATE TABLE voice_attempts (
    job_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    user_id TEXT NOT NULL,
    accepted INTEGER NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX voice_attempts_user ON voice_attempts (tenant_id, user_id, created_at);

-- Uploaded samples still in the object store, so forgetting a user finds
-- them (the keys themselves carry no user id).
CREATE TABLE voice_samples (
    object_key TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX voice_samples_user ON voice_samples (tenant_id, user_id);
