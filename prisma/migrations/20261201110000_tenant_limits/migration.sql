-- Per-tenant overrides of the configured limits (ADR 0009); null takes the default.
ALTER TABLE "tenants" ADD COLUMN "rate_limit_per_minute" INTEGER;
ALTER TABLE "tenants" ADD COLUMN "max_active_jobs" INTEGER;
ALTER TABLE "tenants" ADD COLUMN "max_upload_bytes_per_day" BIGINT;
