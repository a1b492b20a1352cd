-- A tenant's jobs by state, oldest first: bulk retry and cancel walk the
-- failed (or queued) jobs of one tenant without reading the others.
CREATE INDEX jobs_tenant_state ON jobs (tenant_id, state, id);
