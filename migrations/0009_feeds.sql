-- Feed items: one row per recipient and activity, newest first by the key.
-- The key is also what makes a fan-out write each row once. The activity's
-- content lives once in `activities`; a feed row is only its place.
-- On Postgres the table is hash-partitioned by user (migrations/postgres).
CREATE TABLE feed_items (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    activity_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, occurred_at, activity_id)
) WITHOUT ROWID;
