-- Resumable (tus) uploads. Each one is a multipart upload in the object
-- store; a part counts once a row of `resumable_parts` records it, written
-- only after the store acknowledged it, so the offset a client is told
-- (its parts' sizes plus the tail's) never runs ahead of what is stored.
-- Bytes short of a whole part wait in a tail object named by `tail_key`.
-- A PATCH holds the row's lock (a token and a deadline it renews), so the
-- API replicas taking one upload's requests never write it at once.
CREATE TABLE resumable_uploads (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    -- single (becomes a track), partial (a piece of a final one) or final.
    kind TEXT NOT NULL,
    -- receiving, assembled (the object is whole), started (its track is processing).
    state TEXT NOT NULL,
    -- NULL while the client defers it.
    length BIGINT,
    metadata TEXT,
    -- A final upload's partial uploads, their ids in order, space-separated.
    partials TEXT,
    data_key TEXT NOT NULL,
    multipart_id TEXT NOT NULL,
    tail_key TEXT,
    tail_size BIGINT NOT NULL DEFAULT 0,
    lock_token TEXT,
    locked_until BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX resumable_uploads_expiry ON resumable_uploads (expires_at);
CREATE INDEX resumable_uploads_tenant ON resumable_uploads (tenant_id, state);

CREATE TABLE resumable_parts (
    upload_id TEXT NOT NULL REFERENCES resumable_uploads (id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (upload_id, number)
);
