-- Retention of outputs and uploads (OUTPUT_RETENTION_DAYS; api/domain/retention.ts): a tenant's own
-- number of days (null: the configured default), and when the sweeper deleted a job's files. The
-- row stays as history.
ALTER TABLE "tenants" ADD COLUMN "output_retention_days" INTEGER;
ALTER TABLE "jobs" ADD COLUMN "output_expired_at" TIMESTAMPTZ(3);
-- The sweeper's scan: finished jobs whose files are not yet deleted, oldest first.
CREATE INDEX "jobs_retention_due_idx" ON "jobs"("finished_at") WHERE "output_expired_at" IS NULL;
-- Whether another job still needs an upload the sweeper would delete.
CREATE INDEX "jobs_input_uri_unexpired_idx" ON "jobs"("input_uri") WHERE "output_expired_at" IS NULL;
