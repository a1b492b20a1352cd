-- The social graph per tenant: who follows whom, who blocks whom, who mutes
-- whom. The follows key is the fan-out's keyset scan of a followee's
-- followers; `follows_following` serves a user's following list. A fan-out
-- reads the actor's exclusions once: whom it blocks (the blocks key), who
-- blocks it (`blocks_blocked`) and who mutes it (`mutes_muted`).
CREATE TABLE follows (
    tenant_id   TEXT NOT NULL,
    followee_id TEXT NOT NULL,
    follower_id TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, followee_id, follower_id)
);
CREATE INDEX follows_following ON follows (tenant_id, follower_id, followee_id);

CREATE TABLE blocks (
    tenant_id  TEXT NOT NULL,
    blocker_id TEXT NOT NULL,
    blocked_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks (tenant_id, blocked_id);

CREATE TABLE mutes (
    tenant_id  TEXT NOT NULL,
    muter_id   TEXT NOT NULL,
    muted_id   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, muter_id, muted_id)
);
CREATE INDEX mutes_muted ON mutes (tenant_id, muted_id);

-- An activity is recorded once per actor, verb and object while it stands;
-- once deleted, the same can be published again as a new activity.
-- `job_id` is its fan-out, `retract_job_id` the fan-out that took it out.
CREATE TABLE activities (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    actor_id       TEXT NOT NULL,
    verb           TEXT NOT NULL,
    object_type    TEXT NOT NULL,
    object_id      TEXT NOT NULL,
    occurred_at    BIGINT NOT NULL,
    data           TEXT NOT NULL,
    job_id         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    deleted_at     BIGINT,
    retract_job_id TEXT
);
CREATE UNIQUE INDEX activities_once ON activities (tenant_id, actor_id, verb, object_type, object_id)
    WHERE deleted_at IS NULL;
CREATE INDEX activities_job ON activities (job_id);
