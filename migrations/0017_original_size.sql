-- The size of the original as the upload (or the completion of a presigned
-- upload) accepted it: workers refuse an original that no longer has it.
-- NULL for tracks recorded before the column existed.
ALTER TABLE tracks ADD COLUMN original_size BIGINT;
