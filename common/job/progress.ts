/**
 * What a worker reports while it runs a job, beside the status the operator writes: progress
 * travels through Redis to SSE and WebSocket followers, never as ImageJob status patches (each
 * would be an etcd write). Pipelines report the stage they are in; long ones (diffusion steps,
 * OCR lines, batch items) add a step count.
 */
export const JOB_STAGES = ["fetch", "decode", "inference", "encode", "upload"] as const;
export type JobStage = (typeof JOB_STAGES)[number];

export interface JobProgress {
  /** ImageJob UID. */
  uid: string;
  /** The attempt (1-based) this progress belongs to: a retry starts again from its first stage. */
  attempt: number;
  stage: JobStage;
  /** Steps done and to do within the stage, when it has steps (diffusion, tiles, OCR lines). */
  step?: { done: number; total: number };
  /** Milliseconds since the attempt started. */
  elapsedMs: number;
}

export type ProgressReporter = (progress: JobProgress) => void;
