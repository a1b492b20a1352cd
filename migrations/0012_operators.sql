-- Operators' keys open the dashboard, across tenants. They live apart from
-- the tenants' keys so that no operator key can ever resolve to a tenant on
-- /v1, and no tenant key to an operator. Only a SHA-256 of each is stored.
CREATE TABLE operator_keys (
    key_hash TEXT PRIMARY KEY,
    operator TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
