import { JobFailure } from "../../../common/errors.js";
import type { ImageModelSpec, ModelTask } from "../../../common/crd-types.js";
import type { ParamValue } from "../../../common/model-params.js";
import type { ModelSource } from "../model-files.js";
import type { ModelSession } from "../model-session.js";
import type { RowWriter } from "../png-stream.js";
import type { RawImage } from "../tensors.js";
import type { PartTimer } from "../../stage-timings.js";

/**
 * The name of the session of a model made of one graph file (spec.source). Its cache entry and
 * logs carry the model's name alone; other sessions are cached as `<model>/<session>`.
 */
export const MAIN_SESSION = "model";

/** A model's loaded sessions, by the names its pipeline gave them in `sources`. */
export type Sessions = Readonly<Record<string, ModelSession>>;

export interface PipelineRequest {
  spec: ImageModelSpec;
  /** One session for each name `sources(spec)` returned, loaded (or reused) for this job. */
  sessions: Sessions;
  /** The bytes of each data file `files(spec)` named (a charset, a tokenizer's vocabulary), verified. */
  files: Readonly<Record<string, Buffer>>;
  /** The decoded input, already checked by `check`; absent for a text-to-image job (read it with inputImage). */
  image?: RawImage;
  /** The job's params, checked against the spec and with its defaults filled in. */
  params: Record<string, ParamValue>;
  /** Checked between runs (throwIfAborted): a canceled or timed-out job stops there. */
  signal?: AbortSignal;
  /**
   * For a pipeline with steps (diffusion): told after each, with now and then a small preview of
   * the image so far; awaited, so reports stay in order.
   */
  onStep?: (step: { done: number; total: number }, preview?: RawImage) => Promise<void>;
  /**
   * Offered when the output image would be too large to hold whole: a pipeline that makes its
   * image in bands (tiles) opens it once, writes the rows top to bottom, closes it, and returns
   * `{ written }`; one that cannot ignores it and returns the image.
   */
  rows?: (width: number, height: number, channels: number) => RowWriter;
  /**
   * Where the pipeline adds the time of each part of its inference (timed, timedSync): `pre` the
   * input made into tensors, `run` each session.run, `post` the outputs made into the result.
   */
  timer?: PartTimer;
}

/** How a model's files are given: one graph file (with named components), or an export folder (common/model-export.ts). */
export type SourceForm = "graph" | "export";

/** A JSON output (spec.output.kind json): the engine stores it as application/json. */
export interface PipelineDocument {
  /** Of the input image, for the job's output. */
  width: number;
  height: number;
  [field: string]: unknown;
}

/** Exactly one of image, document, and written (the size of an image written to `rows`). */
export type PipelineResult = PipelineOutput & (
  | { image: RawImage; document?: never; written?: never }
  | { document: PipelineDocument; image?: never; written?: never }
  | { written: { width: number; height: number }; image?: never; document?: never }
);

interface PipelineOutput {
  /** Counts worth a field in the engine's "Inference finished" debug line (tiles, steps...). */
  stats?: Record<string, number>;
  /** Said to the caller in the job's output (status.output.notes). */
  notes?: string[];
}

/**
 * How the jobs of one or more tasks are run: which model files a spec needs, and what happens
 * between the decoded input and the output image. The engine does the rest (params, decoding,
 * the session cache, encoding). Every failure the job caused is a JobFailure.
 */
export interface Pipeline {
  /** For logs and messages. */
  readonly name: string;
  /** The ImageModel tasks it runs; one pipeline per task and form in a registry. */
  readonly tasks: readonly ModelTask[];
  /** The form of model it runs: one graph (spec.source, and named components; the default) or an export folder. */
  readonly form?: SourceForm;
  /**
   * The model files of the spec's sessions, by session name: one graph is
   * `{ [MAIN_SESSION]: spec.source }`; OCR or diffusion name several (detector, recognizer...).
   */
  sources(spec: ImageModelSpec): Record<string, ModelSource>;
  /** Data files the pipeline reads besides graphs (fetched and verified like them), by name. */
  files?(spec: ImageModelSpec): Record<string, ModelSource>;
  /** Refuses an input the model cannot take (JobFailure), before any session is loaded; undefined image: a text-to-image job. */
  check?(spec: ImageModelSpec, image: RawImage | undefined): void;
  run(req: PipelineRequest): Promise<PipelineResult>;
}

/**
 * The job's input image, for a pipeline that needs one. The operator and the API refuse a job
 * without one for such a model (common/job/model-input.ts); this says the same to a queue entry
 * that got past them.
 */
export function inputImage(image: RawImage | undefined, spec: ImageModelSpec): RawImage {
  if (image) return image;
  throw new JobFailure("InvalidParams", `a model of task ${spec.task} needs an input image, and the job has none`);
}

/** Ends the job between stages: the signal's own reason (AbortError, TimeoutError) is thrown. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  throw abortError(signal);
}

/** The error an aborted signal stands for: its own reason, or an AbortError. */
export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException("The operation was aborted", "AbortError");
}
