import type { Agent } from "node:https";
import { JobFailure } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { RunRequest, RunResult } from "../runner.js";
import type { ObjectStore } from "../../common/storage/index.js";
import { decode, encode } from "./image-io.js";
import { ModelFiles } from "./model-files.js";
import type { ExecutionProvider } from "./model-session.js";
import { resolveParams } from "../../common/model-params.js";
import { infer, planRuns, throwIfAborted } from "./pipelines/single-pass.js";
import { SessionCache } from "./sessions.js";

export type { ExecutionProvider } from "./model-session.js";

export interface InferenceOptions {
  /** MODEL_CACHE_DIR */
  cacheDir: string;
  /** PIXELMILL_EXECUTION_PROVIDERS, in order of preference. */
  executionProviders: readonly ExecutionProvider[];
  /** MAX_INPUT_PIXELS: larger images are refused before their pixels are decoded. */
  maxInputPixels: number;
  /** FETCH_MAX_BYTES and FETCH_TIMEOUT_MS, for https:// model files. */
  fetchMaxBytes: number;
  fetchTimeoutMs: number;
  /** The store of an `s3://bucket/key` model source's bucket. */
  objectStoreFor?: (bucket: string) => ObjectStore;
  /** Trust for https:// model sources; Node's global agent when absent. */
  httpsAgent?: Agent;
  log: Logger;
}

/** The Runner contract of the queue consumer (worker/runner.ts), which this class implements. */
export type InferenceRequest = RunRequest;
export type InferenceResult = RunResult;

const RUNNABLE_TASKS = new Set(["image-to-image", "image-to-mask"]);

/**
 * One image through one model, all of it driven by the ImageModel spec: params checked,
 * image decoded, model file fetched and verified once, session reused, tensors shaped by the
 * contract, tiled when the spec says so, and the result encoded. The signal is checked between
 * stages. Every failure a job can cause is a JobFailure with its reason.
 */
export class Inference {
  private readonly files: ModelFiles;
  private readonly sessions: SessionCache;

  constructor(private readonly opts: InferenceOptions) {
    this.files = new ModelFiles(opts);
    this.sessions = new SessionCache({ executionProviders: opts.executionProviders, log: opts.log });
  }

  async run(req: InferenceRequest): Promise<InferenceResult> {
    const spec = req.modelSpec;
    if (!RUNNABLE_TASKS.has(spec.task)) throw new JobFailure("InferenceError", `task ${spec.task} is not supported by this worker`);
    const params = resolveParams(spec.params, req.params);
    throwIfAborted(req.signal);
    const started = performance.now();
    const image = await decode(req.input, this.opts.maxInputPixels);
    const tiles = planRuns(spec, image.width, image.height);
    throwIfAborted(req.signal);
    const decoded = performance.now();
    const { out, ep } = await this.sessions.use(req.modelName, req.modelVersion, () => this.files.resolve(spec.source), async (session) => ({
      out: await infer({ session, spec, image, tiles, params, signal: req.signal }),
      ep: session.ep,
    }));
    throwIfAborted(req.signal);
    const inferred = performance.now();
    const encoded = await encode(out, req.output.format, req.output.quality);
    this.opts.log.debug({
      model: req.modelName, ep, width: image.width, height: image.height, tiles: tiles.length,
      decodeMs: ms(decoded - started), inferMs: ms(inferred - decoded), encodeMs: ms(performance.now() - inferred),
    }, "Inference finished");
    return { ...encoded, width: out.width, height: out.height, ...(image.notes ? { notes: image.notes } : {}) };
  }

  /** Releases the sessions; runs in progress finish first. */
  async close(): Promise<void> {
    await this.sessions.close();
  }
}

function ms(v: number): number {
  return Math.round(v);
}
