-- Tenants are namespaces: each tenant's ImageJobs, uploads and Idempotency-Keys live in its own.
-- The table was unused before this migration; a row it might hold takes its name as namespace.
ALTER TABLE "tenants" ADD COLUMN "namespace" TEXT;
UPDATE "tenants" SET "namespace" = "name" WHERE "namespace" IS NULL;
ALTER TABLE "tenants" ALTER COLUMN "namespace" SET NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "tenants_namespace_key" ON "tenants"("namespace");

-- An API key may expire; null never does.
ALTER TABLE "api_keys" ADD COLUMN "expires_at" TIMESTAMPTZ(3);
