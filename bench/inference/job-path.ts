import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { Job } from "bullmq";
import { pino } from "pino";
import type { MetricValueWithName } from "prom-client";
import type { ImageModelSpec } from "../../common/crd-types.js";
import { Registry } from "../../common/metrics.js";
import type { QueueJobData, QueueJobResult } from "../../common/queue.js";
import { createObjectStore, type ObjectStore } from "../../common/storage/index.js";
import { controlPlaneBinaries } from "../../devstack/binaries.js";
import { startS3 } from "../../devstack/s3.js";
import { Inference, type ExecutionProvider } from "../../worker/inference/engine.js";
import { InputFetcher } from "../../worker/input/input-fetcher.js";
import { jobProcessor } from "../../worker/process-job.js";
import type { StageTimings } from "../../worker/stage-timings.js";
import { closedLoop } from "./bare-run.js";

const silent = pino({ level: "silent" });

/** The local stack's S3 server (versitygw) alone, in a temp dir, and a store on it. */
export async function startBenchStore(): Promise<{ store: ObjectStore; stop(): Promise<void> }> {
  const binDir = await controlPlaneBinaries();
  const dir = await mkdtemp(join(tmpdir(), "pixelmill-bench-s3-"));
  const s3 = await startS3(binDir, dir, "pixelmill");
  const store = createObjectStore({
    STORAGE_URL: `s3://${s3.bucket}/bench`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: true,
  });
  return {
    store,
    stop: async () => {
      store.close();
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Mode {
  /** spec.batching.maxBatchSize: 1 runs every image alone. */
  maxBatchSize: number;
  maxDelayMs: number;
  /** Jobs in flight at once (WORKER_CONCURRENCY). */
  clients: number;
  /** Jobs measured, after a warm-up of `clients` jobs. */
  jobs: number;
}

export interface ModeResult {
  imagesPerS: number;
  /** Each measured job's stage times and its whole time in the processor, ms. */
  jobs: Array<{ timings: StageTimings; wallMs: number }>;
  /** Images per run of the model's main graph over the measured jobs (pixelmill_inference_batch_images); undefined for a pipeline of named graphs (ocr). */
  meanBatch: number | undefined;
}

/**
 * Jobs of one model through the worker's own job processor (jobProcessor: input fetched from S3,
 * decoded, run by the engine, encoded, uploaded to S3), on a fresh engine, `clients` at a time;
 * the BullMQ job is the only stand-in, as in the worker's tests. The outputs are deleted once no
 * job is running (versitygw's posix backend can fail a put that races a delete beside it).
 */
export async function runJobs(opts: {
  store: ObjectStore; cacheDir: string; providers: readonly ExecutionProvider[]; model: string; spec: ImageModelSpec; inputUri: string; mode: Mode;
}): Promise<ModeResult> {
  const { store, model, mode } = opts;
  const metrics = new Registry();
  const inference = new Inference({
    cacheDir: opts.cacheDir, executionProviders: opts.providers, maxInputPixels: 1 << 30, fetchMaxBytes: 1 << 30, fetchTimeoutMs: 60_000,
    log: silent, metrics, concurrency: mode.clients,
  });
  const timings = new Map<string, StageTimings>();
  const process = jobProcessor({
    runner: inference, store, log: silent, metrics, onStageTimings: (uid, t) => timings.set(uid, t),
    input: new InputFetcher({ store, bucketStore: () => store, maxBytes: 1 << 30, timeoutMs: 60_000 }),
  });
  const spec = { ...opts.spec, batching: { maxBatchSize: mode.maxBatchSize, maxDelayMs: mode.maxDelayMs } };
  const jobs: ModeResult["jobs"] = [];
  const outputs: string[] = [];
  const one = async (keep: boolean): Promise<void> => {
    const uid = randomUUID();
    const data: QueueJobData = { uid, namespace: "bench", name: uid, model, modelSpec: spec, modelVersion: "1", inputUri: opts.inputUri, params: {}, output: { format: "png" } };
    const job = { id: uid, attemptsMade: 0, data, timestamp: Date.now(), processedOn: Date.now() } as unknown as Job<QueueJobData, QueueJobResult>;
    const t0 = performance.now();
    const result = await process(job);
    const wallMs = performance.now() - t0;
    if (keep) jobs.push({ timings: timings.get(uid)!, wallMs });
    outputs.push(store.keyOf(result.uri)!);
  };
  try {
    await closedLoop(mode.clients, mode.clients, () => one(false));
    const before = await batchStats(metrics, model);
    const wallMs = await closedLoop(mode.clients, mode.jobs, () => one(true));
    const after = await batchStats(metrics, model);
    const runs = after.runs - before.runs;
    return { imagesPerS: (mode.jobs * 1000) / wallMs, jobs, meanBatch: runs > 0 ? (after.images - before.images) / runs : undefined };
  } finally {
    await inference.close();
    for (const key of outputs) await store.delete(key);
  }
}

/** Runs and images of the model's main graph so far (a pipeline's other graphs count as `model/name`). */
async function batchStats(registry: Registry, model: string): Promise<{ runs: number; images: number }> {
  const values = ((await registry.getSingleMetric("pixelmill_inference_batch_images")?.get())?.values ?? []) as Array<MetricValueWithName<string>>;
  const of = (suffix: string) => values.find((v) => v.metricName === `pixelmill_inference_batch_images_${suffix}` && v.labels.model === model)?.value ?? 0;
  return { runs: of("count"), images: of("sum") };
}
