import type { JobStage } from "../common/job/progress.js";
import { counter, DURATION_BUCKETS, histogram, type Registry } from "../common/metrics.js";

/** `outcome`: how an attempt ended; `reason`: a FAILURE_REASONS key when it failed, else "". */
export type JobOutcome = "succeeded" | "failed" | "handed_back";

/** The worker's job metrics, served on its health server's /metrics. Labels: model names, outcomes, reasons, stages. */
export function jobMetrics(registry: Registry) {
  const jobs = counter(registry, "pixelmill_jobs_total", "Job attempts by model, outcome and failure reason.", ["model", "outcome", "reason"]);
  const stages = histogram(registry, "pixelmill_job_stage_seconds", "Time an attempt spent in each stage, by model.", ["model", "stage"], DURATION_BUCKETS);
  return {
    outcome(model: string, outcome: JobOutcome, reason = ""): void {
      jobs.inc({ model, outcome, reason });
    },
    /** Times the stages of one attempt: each lasts until the next is entered, the last until end(). */
    stageTimer(model: string): { enter(stage: JobStage): void; end(): void } {
      let current: { stage: JobStage; since: number } | undefined;
      const close = (now: number) => {
        if (current) stages.observe({ model, stage: current.stage }, (now - current.since) / 1000);
      };
      return {
        enter(stage) {
          const now = performance.now();
          close(now);
          current = { stage, since: now };
        },
        end() {
          close(performance.now());
          current = undefined;
        },
      };
    },
  };
}
export type JobMetrics = ReturnType<typeof jobMetrics>;
