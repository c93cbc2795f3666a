import type { Agent } from "node:https";
import type { Config } from "../common/config.js";
import { inputBuckets } from "../common/job/input-uri.js";
import { ConfigError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { createObjectStore, type ObjectStore } from "../common/storage/index.js";
import { BucketStores } from "../common/storage/bucket-stores.js";
import { DependencyMonitor } from "../common/health/dependency-monitor.js";
import { Consumer } from "./queue/consumer.js";
import { InputFetcher } from "./input/input-fetcher.js";
import type { Runner } from "./runner.js";
import type { Registry } from "../common/metrics.js";

type WorkerConfig = Pick<Config,
  | "REDIS_URL" | "QUEUE_PREFIX" | "WORKER_MODELS" | "WORKER_CONCURRENCY" | "PIXELMILL_EXECUTION_PROVIDERS"
  | "FETCH_MAX_BYTES" | "FETCH_TIMEOUT_MS" | "INPUT_BUCKETS"
  | "STORAGE_URL" | "S3_ENDPOINT" | "S3_REGION" | "S3_ACCESS_KEY_ID" | "S3_SECRET_ACCESS_KEY" | "S3_FORCE_PATH_STYLE"
  | "HEALTH_CHECK_INTERVAL_MS" | "HEALTH_CHECK_TIMEOUT_MS">
  & Partial<Pick<Config, "PIXELMILL_POOL" | "POD_NAME" | "POD_NAMESPACE" | "WORKER_LOCK_DURATION_MS" | "WORKER_STALLED_INTERVAL_MS" | "PIXELMILL_GPUS" | "RESULT_CACHE_TTL_SECONDS">>;

export interface StartWorkerOptions {
  config: WorkerConfig;
  log: Logger;
  /** Builds the inference engine; `objectStoreFor` serves its `s3://` model sources. */
  createRunner: (ctx: { objectStoreFor: (bucket: string) => ObjectStore }) => Runner;
  lockDuration?: number;
  httpsAgent?: Agent;
  /** Where the job metrics go (served by the ops server); the process's registry by default. */
  metrics?: Registry;
}

export interface RunningWorker {
  /** Drains (running jobs finish, no new ones start) and releases everything; idempotent. */
  readonly stop: () => Promise<void>;
  /** False while the store cannot be reached: the worker takes no jobs then (and is not ready). */
  readonly storageAvailable: () => boolean;
}

/** The worker process without its signals: storage, inference and the queue consumer, wired. */
export async function startWorker(opts: StartWorkerOptions): Promise<RunningWorker> {
  const { config, log } = opts;
  if (config.WORKER_MODELS.length === 0) {
    throw new ConfigError("WORKER_MODELS is empty: name the models this worker serves, comma-separated");
  }
  const store = createObjectStore(config);
  const buckets = new BucketStores(config);
  const runner = opts.createRunner({ objectStoreFor: buckets.for });
  const input = new InputFetcher({ store, bucketStore: buckets.for, maxBytes: config.FETCH_MAX_BYTES, timeoutMs: config.FETCH_TIMEOUT_MS, httpsAgent: opts.httpsAgent, inputBuckets: inputBuckets(config) });
  const consumer = new Consumer({
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    models: config.WORKER_MODELS,
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: opts.lockDuration ?? config.WORKER_LOCK_DURATION_MS,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
    runner,
    input,
    store,
    log,
    presence: poolMembership(config),
    gpus: config.PIXELMILL_GPUS,
    resultCacheTtlSeconds: config.RESULT_CACHE_TTL_SECONDS,
    metrics: opts.metrics,
  });
  // While the store does not answer, take no jobs: each would fail and spend an attempt.
  let storageUp = true;
  const storage = new DependencyMonitor({
    checks: { storage: (signal) => store.check(signal) }, intervalMs: config.HEALTH_CHECK_INTERVAL_MS, timeoutMs: config.HEALTH_CHECK_TIMEOUT_MS, log,
    onChange: (_, available) => {
      storageUp = available;
      (available ? consumer.resume() : consumer.pause()).catch((err: Error) => log.warn({ err: err.message }, "Could not pause or resume taking jobs"));
    },
  });
  let stopping: Promise<void> | undefined;
  const release = async (): Promise<void> => {
    storage.stop();
    try {
      await consumer.stop();
    } finally {
      store.close();
      buckets.close();
    }
  };
  const stop = (): Promise<void> => (stopping ??= release());
  try {
    await consumer.start();
    storage.start();
  } catch (err) {
    await stop();
    throw err;
  }
  log.info({ models: config.WORKER_MODELS, concurrency: config.WORKER_CONCURRENCY, executionProviders: config.PIXELMILL_EXECUTION_PROVIDERS }, "Worker started");
  return { stop, storageAvailable: () => storageUp };
}

/** The pool entry this worker reports in, when it runs as a WorkerPool's pod (all three set). */
function poolMembership(config: WorkerConfig): { namespace: string; pool: string; pod: string } | undefined {
  const { PIXELMILL_POOL: pool, POD_NAME: pod, POD_NAMESPACE: namespace } = config;
  return pool && pod && namespace ? { namespace, pool, pod } : undefined;
}
