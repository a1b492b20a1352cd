-- How each voiceprint has been used, for GET /v1/voice/{user_id}: kept on
-- the print's row because voice_attempts holds only the lockout window.
-- A verification counts once, when its verdict is first recorded.
ALTER TABLE voiceprints ADD COLUMN verifications BIGINT NOT NULL DEFAULT 0;
ALTER TABLE voiceprints ADD COLUMN accepts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE voiceprints ADD COLUMN last_verified_at BIGINT;
