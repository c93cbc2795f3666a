import type { JobStage } from "../common/job/progress.js";
import { counter, DURATION_BUCKETS, histogram, type Registry } from "../common/metrics.js";
import type { InferencePart, StageTimings } from "./stage-timings.js";

/** `outcome`: how an attempt ended; `reason`: a FAILURE_REASONS key when it failed, else "". */
export type JobOutcome = "succeeded" | "failed" | "handed_back";

/** How a result cache lookup ended: `miss` includes an entry whose object was gone. */
export type CacheLookupResult = "hit" | "miss" | "skipped";

/** The stages timed per attempt: `wait` (enqueued → taken by a worker), then the attempt's own (JOB_STAGES) and the parts of inference. */
export type TimedStage = "wait" | JobStage | InferencePart;

/** DURATION_BUCKETS from 1 ms: the parts of inference of a small graph, or on a GPU, take a few. */
const STAGE_BUCKETS = [0.001, 0.0025, ...DURATION_BUCKETS];

/**
 * The worker's job metrics, served on its ops server's /metrics. Labels: model names (checked
 * by the operator against its ImageModels), outcomes, reasons (FAILURE_REASONS), stages.
 */
export function jobMetrics(registry: Registry) {
  const jobs = counter(registry, "pixelmill_jobs_total", "Job attempts by model, outcome and failure reason.", ["model", "outcome", "reason"]);
  const stages = histogram(registry, "pixelmill_job_stage_seconds",
    "Time an attempt spent in each stage, by model: wait (enqueued to taken), then fetch, decode, inference, encode, upload, each until the next began; "
    + "pre, run (session.run, its turn and batch wait included) and post are parts of inference, each summed over the attempt's tiles, bands or batches.",
    ["model", "stage"], STAGE_BUCKETS);
  const durations = histogram(registry, "pixelmill_job_duration_seconds", "Time one attempt took in the worker, start to end, by model and outcome.", ["model", "outcome"], DURATION_BUCKETS);
  const lookups = counter(registry, "pixelmill_result_cache_lookups_total", "Result cache lookups by model and result (hit, miss, skipped: the job asked for cache: false).", ["model", "result"]);
  return {
    /** Counts a result cache lookup (ADR 0015). */
    cacheLookup(model: string, result: CacheLookupResult): void {
      lookups.inc({ model, result });
    },
    /** Counts an attempt's end; `seconds`, the attempt's length, for one that ran (not one handed back). */
    outcome(model: string, outcome: JobOutcome, reason = "", seconds?: number): void {
      jobs.inc({ model, outcome, reason });
      if (seconds !== undefined) durations.observe({ model, outcome }, seconds);
    },
    /** The first attempt's wait in the queue; a retry's wait is its backoff, set by policy, and is not timed. */
    waited(model: string, seconds: number): void {
      stages.observe({ model, stage: "wait" satisfies TimedStage }, Math.max(0, seconds));
    },
    /** The stages one attempt reached (worker/stage-timings.ts), observed as it ends. */
    timed(model: string, timings: StageTimings): void {
      for (const [stage, ms] of Object.entries(timings)) stages.observe({ model, stage }, ms / 1000);
    },
  };
}
export type JobMetrics = ReturnType<typeof jobMetrics>;

/** Batch sizes bucketed as powers of two up to the CRD's maximum (64). */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64];

/**
 * Images per native onnxruntime run, by model (a pipeline's other graphs as `model/name`):
 * every run is observed, so _count is the runs and _sum the images; all 1 when nothing batches.
 */
export function batchMetrics(registry: Registry) {
  const sizes = histogram(registry, "pixelmill_inference_batch_images", "Images in each onnxruntime run (1 when unbatched), by model.", ["model"], BATCH_BUCKETS);
  return {
    ran(model: string, images: number): void {
      sizes.observe({ model }, images);
    },
  };
}
