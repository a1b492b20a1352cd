-- Music analysis of a track: tempo, key, energy and its duplicates as one
-- JSON value written by the same statement as the rest of a ready track (or
-- by an `analyze` job), and the earlier track it duplicates, if any.
ALTER TABLE tracks ADD COLUMN analysis TEXT;
ALTER TABLE tracks ADD COLUMN duplicate_of TEXT;

-- One Chromaprint fingerprint per track, as hex (eight digits a hash);
-- replaced whole when the track is analysed again.
CREATE TABLE track_fingerprints (
    track_id TEXT PRIMARY KEY REFERENCES tracks (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    version TEXT NOT NULL,
    hashes TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The inverted index of a tenant's fingerprints: each 16-bit half of a hash
-- (tagged by which half) at every other position. A lookup joins a new
-- fingerprint's halves here and counts votes per track and time offset, so it
-- reads the postings of its own halves rather than every fingerprint.
CREATE TABLE fingerprint_index (
    tenant_id TEXT NOT NULL,
    sub_hash INTEGER NOT NULL,
    track_id TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX fingerprint_index_lookup ON fingerprint_index (tenant_id, sub_hash);
CREATE INDEX fingerprint_index_track ON fingerprint_index (track_id);
