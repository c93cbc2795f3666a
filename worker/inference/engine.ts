import { readFile } from "node:fs/promises";
import type { Agent } from "node:https";
import type { Logger } from "../../common/logger.js";
import type { RunRequest, RunResult } from "../runner.js";
import type { ObjectStore } from "../../common/storage/index.js";
import { decode, encode } from "./image-io.js";
import { ModelFiles, type ModelSource } from "./model-files.js";
import { unavailable } from "./model-sources.js";
import type { ExecutionProvider, ModelSession } from "./model-session.js";
import { resolveParams } from "../../common/model-params.js";
import { MAIN_SESSION, throwIfAborted, type PipelineRequest, type Sessions } from "./pipelines/pipeline.js";
import { defaultPipelines, type PipelineRegistry } from "./pipelines/registry.js";
import { SessionCache } from "./sessions.js";
import { OutputSpool } from "./spool.js";
import { batchPolicy } from "./batcher.js";
import { processRegistry, type Registry } from "../../common/metrics.js";
import { batchMetrics } from "../metrics.js";

export type { ExecutionProvider } from "./model-session.js";

/** 4096 × 4096: a larger output (about 50 MB as 8-bit RGB and up) is spooled rather than held. */
export const DEFAULT_SPOOL_ABOVE_PIXELS = 4096 * 4096;

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
  /**
   * Outputs of more pixels than this are written in bands to a file and uploaded from it
   * (OutputSpool), so memory is bounded by a tile, not the image; default DEFAULT_SPOOL_ABOVE_PIXELS.
   */
  spoolAbovePixels?: number;
  /** The pipeline of each task (pipelines/registry.ts); what the worker runs today when absent. */
  pipelines?: PipelineRegistry;
  /** Where pixelmill_inference_batch_images goes; the process's registry by default. */
  metrics?: Registry;
  /**
   * WORKER_CONCURRENCY: the most jobs that can wait together for a batch. A model whose
   * maxBatchSize is larger is warned about once, since its batches can never fill.
   */
  concurrency?: number;
}

/** The Runner contract of the queue consumer (worker/runner.ts), which this class implements. */
export type InferenceRequest = RunRequest;
export type InferenceResult = RunResult;

/**
 * One image through one model, all of it driven by the ImageModel spec: the task's pipeline
 * picked (pipelines/registry.ts), params checked, image decoded and checked by the pipeline,
 * model files fetched and verified once, sessions reused, the pipeline run, and the result
 * encoded. The signal is checked between stages. Every failure a job can cause is a JobFailure
 * with its reason.
 */
export class Inference {
  private readonly files: ModelFiles;
  private readonly sessions: SessionCache;
  private readonly pipelines: PipelineRegistry;
  private readonly spoolAbovePixels: number;
  /** model@version already warned about (a batch size it cannot reach). */
  private readonly warned = new Set<string>();

  constructor(private readonly opts: InferenceOptions) {
    this.spoolAbovePixels = opts.spoolAbovePixels ?? DEFAULT_SPOOL_ABOVE_PIXELS;
    this.files = new ModelFiles(opts);
    const batches = batchMetrics(opts.metrics ?? processRegistry());
    this.sessions = new SessionCache({ executionProviders: opts.executionProviders, log: opts.log, onRun: (model, images) => batches.ran(model, images) });
    this.pipelines = opts.pipelines ?? defaultPipelines();
  }

  async run(req: InferenceRequest): Promise<InferenceResult> {
    const spec = req.modelSpec;
    const pipeline = this.pipelines.resolve(spec);
    const params = resolveParams(spec.params, req.params);
    this.checkBatching(req);
    throwIfAborted(req.signal);
    const started = performance.now();
    // A text-to-image job has no input to decode: its pipeline makes the image from params.
    const image = req.input === undefined ? undefined : await decode(req.input, this.opts.maxInputPixels);
    pipeline.check?.(spec, image);
    throwIfAborted(req.signal);
    const decoded = performance.now();
    req.onStage?.("inference");
    const files = await this.readFiles(pipeline.files?.(spec) ?? {});
    const scale = spec.output?.scale ?? 1;
    const large = image !== undefined && spec.output?.kind !== "json" && image.width * image.height * scale * scale > this.spoolAbovePixels;
    const spool = large ? new OutputSpool(req.output.format, req.output.quality) : undefined;
    try {
      const { result, ep } = await this.withSessions(req, pipeline.sources(spec), async (sessions) => ({
        result: await pipeline.run({ spec, sessions, files, image, params, signal: req.signal, rows: spool?.rows, timer: req.timings, onStep: stepReporter(req) }),
        ep: [...new Set(Object.values(sessions).map((s) => s.ep))].join(","),
      }));
      throwIfAborted(req.signal);
      const inferred = performance.now();
      req.onStage?.("encode");
      const out = result.image ?? result.document ?? result.written;
      const encoded = result.image
        ? await encode(result.image, req.output.format, req.output.quality)
        : result.document
          ? { body: Buffer.from(JSON.stringify(result.document)), contentType: "application/json" }
          : await spool!.finish();
      this.opts.log.debug({
        model: req.modelName, pipeline: pipeline.name, ep, width: image?.width, height: image?.height, ...result.stats, spooled: !!result.written,
        decodeMs: ms(decoded - started), inferMs: ms(inferred - decoded), encodeMs: ms(performance.now() - inferred),
      }, "Inference finished");
      const notes = [...(image?.notes ?? []), ...(result.notes ?? [])];
      return { ...encoded, width: out.width, height: out.height, ...(notes.length ? { notes } : {}) };
    } catch (err) {
      await spool?.discard();
      throw err;
    }
  }

  /** Warns once per model version whose batches this worker can never fill. */
  private checkBatching(req: InferenceRequest): void {
    const { maxBatchSize } = batchPolicy(req.modelSpec);
    const concurrency = this.opts.concurrency;
    const key = `${req.modelName}@${req.modelVersion}`;
    if (concurrency === undefined || maxBatchSize <= concurrency || this.warned.has(key)) return;
    this.warned.add(key);
    this.opts.log.warn({ model: req.modelName, maxBatchSize, concurrency }, "Batches of this model can hold at most WORKER_CONCURRENCY jobs; raise it to fill them");
  }

  /** The verified bytes of each named data file; small (a charset, a vocabulary), read per job from the local cache. */
  private async readFiles(sources: Record<string, ModelSource>): Promise<Record<string, Buffer>> {
    const entries = await Promise.all(Object.entries(sources).map(async ([name, source]) => {
      const path = await this.files.resolve(source);
      return [name, await readFile(path).catch((err: unknown) => { throw unavailable(source.uri, (err as Error).message, err); })] as const;
    }));
    return Object.fromEntries(entries);
  }

  /** Releases the sessions; runs in progress finish first. */
  async close(): Promise<void> {
    await this.sessions.close();
  }

  /**
   * Runs `fn` with a session for each named source, each loaded (or reused) through the cache,
   * one after the other; none is released under `fn`.
   */
  private withSessions<T>(req: InferenceRequest, sources: Record<string, ModelSource>, fn: (sessions: Sessions) => Promise<T>): Promise<T> {
    const named = Object.entries(sources);
    const sessions: Record<string, ModelSession> = {};
    const next = (i: number): Promise<T> => {
      if (i === named.length) return fn(sessions);
      const [name, source] = named[i]!;
      const key = name === MAIN_SESSION ? req.modelName : `${req.modelName}/${name}`;
      return this.sessions.use(key, req.modelVersion, () => this.files.resolve(source), (session) => {
        sessions[name] = session;
        return next(i + 1);
      });
    };
    return next(0);
  }
}

/** The pipeline's step reports, previews as data: URLs of PNGs, for the job's progress (RunRequest.onStep). */
function stepReporter(req: InferenceRequest): PipelineRequest["onStep"] {
  const onStep = req.onStep;
  if (!onStep) return undefined;
  return async (step, preview) => {
    if (!preview) return onStep(step);
    const { body } = await encode(preview, "png");
    onStep(step, `data:image/png;base64,${body.toString("base64")}`);
  };
}

function ms(v: number): number {
  return Math.round(v);
}
