-- Batch jobs (docs/batch.md): one ImageJob with many inputs. batch_total is the item count (the
-- list's length at submit, the operator's once it has listed a prefix; null before that), which the
-- active-jobs cap sums; batch holds status.batch's counts as the operator last wrote them.
ALTER TABLE "jobs" ADD COLUMN "batch_total" INTEGER;
ALTER TABLE "jobs" ADD COLUMN "batch" JSONB;
