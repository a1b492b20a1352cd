-- Postgres drops the foreign key from jobs to tenants (its form is
-- migrations/postgres/0023_jobs_tenant_check.sql); SQLite keeps it, since its
-- check is one index lookup that takes no lock, and dropping it there would
-- mean rebuilding the table.
SELECT 1;
