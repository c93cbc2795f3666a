import type { JobStage } from "../common/job/progress.js";

/**
 * The parts of the inference stage, each summed over a job's runs (tiles, bands, OCR line
 * batches): `pre` the input made into tensors (crops, resizes included), `run` the job's
 * `session.run` calls (waiting for the session's turn and for a micro-batch to fill included),
 * `post` the outputs read back into pixels, boxes or text (stitching included).
 */
export const INFERENCE_PARTS = ["pre", "run", "post"] as const;
export type InferencePart = (typeof INFERENCE_PARTS)[number];

/**
 * Milliseconds one attempt spent in each stage it reached: the stages of common/job/progress.ts,
 * each lasting until the next began (so they add up to at most the attempt), and the parts of
 * `inference`, which add up to at most it.
 */
export type StageTimings = Partial<Record<JobStage | InferencePart, number>>;

/** What a pipeline adds the parts of inference to. */
export interface PartTimer {
  add(part: InferencePart, ms: number): void;
}

/** Runs `fn`, adding its time to `part` when there is a timer (two performance.now() calls). */
export async function timed<T>(timer: PartTimer | undefined, part: InferencePart, fn: () => Promise<T>): Promise<T> {
  if (!timer) return fn();
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timer.add(part, performance.now() - t0);
  }
}

/** As timed, for synchronous work. */
export function timedSync<T>(timer: PartTimer | undefined, part: InferencePart, fn: () => T): T {
  if (!timer) return fn();
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    timer.add(part, performance.now() - t0);
  }
}

/** The clock of one attempt: stages entered one after another, and the parts of inference added up. */
export class StageClock implements PartTimer {
  readonly timings: StageTimings = {};
  private current: { stage: JobStage; since: number } | undefined;
  private ended = false;

  /** Ends the current stage, if any, and starts `stage` (a stage entered twice adds up). */
  enter(stage: JobStage): void {
    if (this.ended) return;
    const now = performance.now();
    this.close(now);
    this.current = { stage, since: now };
  }

  /** A step left running after its attempt ended (a timeout's race) changes nothing. */
  add(part: InferencePart, ms: number): void {
    if (this.ended) return;
    this.timings[part] = (this.timings[part] ?? 0) + ms;
  }

  /** Ends the current stage; the timings are final. */
  end(): StageTimings {
    if (!this.ended) this.close(performance.now());
    this.ended = true;
    return this.timings;
  }

  private close(now: number): void {
    if (this.current) this.timings[this.current.stage] = (this.timings[this.current.stage] ?? 0) + (now - this.current.since);
  }
}

/** The timings rounded to 0.1 ms, for a log line. */
export function roundedTimings(timings: StageTimings): StageTimings {
  return Object.fromEntries(Object.entries(timings).map(([stage, ms]) => [stage, Math.round(ms * 10) / 10]));
}
