-- The order in which a tenant's fingerprints were indexed. A track duplicates
-- the tracks indexed before it, and a tenant's tracks are indexed one at a
-- time, so of two copies processed at once exactly one finds the other (by
-- upload time, each could miss the other). Fingerprints indexed before this
-- column existed keep the order of their indexing time.
ALTER TABLE track_fingerprints ADD COLUMN indexed_seq BIGINT NOT NULL DEFAULT 0;
UPDATE track_fingerprints SET indexed_seq = created_at;
CREATE INDEX track_fingerprints_order ON track_fingerprints (tenant_id, indexed_seq);
