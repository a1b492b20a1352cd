-- What the janitor sweeps by age: verification history past the lockout
-- window, voice samples no job deleted, presigned uploads never completed.
CREATE INDEX voice_attempts_created ON voice_attempts (created_at);
CREATE INDEX voice_samples_created ON voice_samples (created_at);
CREATE INDEX tracks_upload_expiry ON tracks (upload_expires_at) WHERE state = 'uploaded';
