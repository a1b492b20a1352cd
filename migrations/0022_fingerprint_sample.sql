-- The fingerprint index keeps one sub-hash value in 32, chosen by value, and a
-- lookup reads only those (see jobs/src/db/tracks/fingerprints.rs): a lookup
-- that joined every sub-hash of five minutes met postings spread over the
-- whole table, so Postgres read all of it for every lookup. The rows of the
-- other values are deleted: `sampled` in fingerprints.rs, the top 5 bits of
-- sub_hash × 0x9E3779B1 (mod 2³²) being zero, in SQL. Tracks indexed before
-- keep their sampled sub-hashes at even positions only: half the votes of a
-- track indexed now, plenty for a copy of a minute or more, while a shorter
-- excerpt of such a track may go unfound until it is analysed again.
DELETE FROM fingerprint_index
WHERE ((sub_hash * 2654435761) % 4294967296) / 134217728 <> 0;

-- The lookup's index holds every column the lookup reads, so that its
-- postings, adjacent in the index, are read from it alone rather than from a
-- heap page each.
DROP INDEX fingerprint_index_lookup;
CREATE INDEX fingerprint_index_lookup
    ON fingerprint_index (tenant_id, sub_hash, track_id, position);
