-- What the janitor sweeps by age: verification history past the lockout
-- window, voice samples no job deleted, presigned uploads never completed.
CREATE INDEX voice_attempts_created ON voice_attempts (created_at);
CREATE INDEX voice_samples_created ON voice_samples (created_at);
CREATE INDEX tracks_upload_expiry ON tracks (upload_expires_at) WHERE state = 'uploaded';

-- Users forgotten recently: an enrollment that read its samples before the
-- forgetting must not write a print after it. Kept an hour (longer than an
-- enrollment attempt may run), then swept.
CREATE TABLE voice_forgotten (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    user_id TEXT NOT NULL,
    forgotten_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX voice_forgotten_at ON voice_forgotten (forgotten_at);
