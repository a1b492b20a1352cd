-- Keys are named without being held (by the first 12 hex digits of their
-- SHA-256, which `mixdown keys create` prints) and revoked by that name;
-- a revoked key stays listed, with when it stopped opening anything.
-- last_used_at is kept to within a minute, so a busy key does not cost a
-- write per request.
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
ALTER TABLE api_keys ADD COLUMN revoked_at BIGINT;
ALTER TABLE operator_keys ADD COLUMN last_used_at BIGINT;
ALTER TABLE operator_keys ADD COLUMN revoked_at BIGINT;

-- A tenant's callback secret rotates: each rotation derives the next
-- version from the fleet's master secret, and the version before it keeps
-- signing beside it until callback_previous_until. Version 0 is the secret
-- every tenant had before rotation existed.
ALTER TABLE tenants ADD COLUMN callback_secret_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN callback_previous_version BIGINT;
ALTER TABLE tenants ADD COLUMN callback_previous_until BIGINT;
