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
  /** The job's namespace: followers hear only their own tenant's jobs. */
  namespace: string;
  /** The attempt (1-based) this progress belongs to: a retry starts again from its first stage. */
  attempt: number;
  stage: JobStage;
  /** Steps done and to do within the stage, when it has steps (diffusion, tiles, OCR lines). */
  step?: { done: number; total: number };
  /** Milliseconds since the attempt started. */
  elapsedMs: number;
  /** A small look at the image so far (a diffusion's latents as RGB), as a data: URL of a PNG. */
  preview?: string;
}

export type ProgressReporter = (progress: JobProgress) => void;

/** The Redis Pub/Sub channel workers publish progress on and every API replica hears (JSON JobProgress). */
export function progressChannel(prefix: string): string {
  return `${prefix}:progress`;
}

/** A preview's data: URL is at most this long; a larger one is left out of its message. */
export const MAX_PREVIEW_CHARS = 256 * 1024;

const STAGES: ReadonlySet<string> = new Set(JOB_STAGES);

/** A progress message from the channel, or undefined when it is not one (another version's, a stray publish). */
export function parseProgress(message: string): JobProgress | undefined {
  let v: Partial<JobProgress>;
  try {
    v = JSON.parse(message) as Partial<JobProgress>;
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  if (typeof v.uid !== "string" || typeof v.namespace !== "string" || typeof v.attempt !== "number" || typeof v.elapsedMs !== "number") return undefined;
  if (typeof v.stage !== "string" || !STAGES.has(v.stage)) return undefined;
  const step = v.step && Number.isInteger(v.step.done) && Number.isInteger(v.step.total) ? { done: v.step.done, total: v.step.total } : undefined;
  const preview = typeof v.preview === "string" && v.preview.startsWith("data:image/") && v.preview.length <= MAX_PREVIEW_CHARS ? v.preview : undefined;
  return { uid: v.uid, namespace: v.namespace, attempt: v.attempt, stage: v.stage, elapsedMs: v.elapsedMs, ...(step ? { step } : {}), ...(preview ? { preview } : {}) };
}
