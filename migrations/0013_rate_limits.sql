-- A tenant's own request rate (`200/s burst 400`, as `mixdown keys create
-- --rate` takes it); NULL: the configured MIXDOWN_RATE_LIMIT applies.
ALTER TABLE tenants ADD COLUMN rate_limit TEXT;
