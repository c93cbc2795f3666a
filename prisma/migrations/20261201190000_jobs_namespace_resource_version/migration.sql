-- A WebSocket client resuming "all" of its tenant's jobs (ADR 0024) reads the rows of its
-- namespace changed after the last resourceVersion it saw, oldest first.
CREATE INDEX "jobs_namespace_resource_version_idx" ON "jobs"("namespace", "resource_version");
