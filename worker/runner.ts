import type { ImageModelSpec, OutputFormat } from "../common/crd-types.js";
import type { PartTimer } from "./stage-timings.js";

/**
 * What the consumer needs from the inference engine (worker/inference): run one model on one
 * image, and release sessions at shutdown. Kept as an interface so the consumer can be tested
 * with a small real image processor, and so it does not depend on onnxruntime at import time.
 * It throws JobFailure (common/errors.ts) for failures the job caused.
 */
export interface RunRequest {
  modelName: string;
  /** The ImageModel's resourceVersion: a new one loads a new session. */
  modelVersion: string;
  modelSpec: ImageModelSpec;
  /** The input image's bytes; absent for a text-to-image model. */
  input?: Buffer;
  params: Record<string, unknown>;
  output: { format: OutputFormat; quality?: number };
  signal?: AbortSignal;
  /**
   * Told when the run moves from decoding the input to inference, and from inference to encoding
   * the output (stage times and progress); a run starts in `decode`.
   */
  onStage?: (stage: "inference" | "encode") => void;
  /** Told each step of a pipeline that has steps (diffusion), now and then with a preview (a data: URL of a small PNG). */
  onStep?: (step: { done: number; total: number }, preview?: string) => void;
  /** Where the pipeline adds the parts of inference it times (pre, run, post: worker/stage-timings.ts). */
  timings?: PartTimer;
}

/** An output written to a local file (one too large to hold whole); the job removes it once uploaded. */
export interface SpooledOutput {
  path: string;
  bytes: number;
}

export interface RunResult {
  body: Buffer | SpooledOutput;
  contentType: string;
  width: number;
  height: number;
  /** Said to the caller in the job's output (status.output.notes). */
  notes?: string[];
}

export interface Runner {
  run(req: RunRequest): Promise<RunResult>;
  close(): Promise<void>;
}
