-- A disabled tenant (DELETE /v1/tenants/:name): its keys are revoked with it and refused from then
-- on; its namespace and its jobs' history stay.
ALTER TABLE "tenants" ADD COLUMN "disabled_at" TIMESTAMPTZ(3);
