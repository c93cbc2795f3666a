-- Usage of each job (issue 11): run time of the attempt that produced the result, and that × the pool's GPUs.
ALTER TABLE "jobs" ADD COLUMN "run_seconds" DOUBLE PRECISION;
ALTER TABLE "jobs" ADD COLUMN "gpu_seconds" DOUBLE PRECISION;

-- GET /v1/usage: a tenant's (namespace's) jobs by the day they finished.
CREATE INDEX "jobs_namespace_finished_at_idx" ON "jobs"("namespace", "finished_at");
