-- What the request that carried a job's idempotency key asked for (SHA-256
-- of its canonical JSON): the same key sent again with another request is
-- refused instead of answered with the first job. NULL for jobs the fleet
-- keys itself, and for jobs recorded before the column existed.
ALTER TABLE jobs ADD COLUMN request_digest TEXT;
