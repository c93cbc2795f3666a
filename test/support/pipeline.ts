import { join } from "node:path";
import { tmpdir } from "node:os";
import { loadConfig } from "../../common/config.js";
import { BucketStores } from "../../common/storage/bucket-stores.js";
import type { Logger } from "../../common/logger.js";
import { startOperator, type Operator } from "../../operator/operator.js";
import { startWorker, type RunningWorker } from "../../worker/worker.js";
import { inferenceRunner } from "../../worker/inference-runner.js";
import { projectRoot } from "../../devstack/binaries.js";
import { applyManifests, readManifests } from "../../devstack/manifests.js";
import type { ApiFixture } from "./api-fixture.js";
import { testEnv, uniqueName, s3StorageEnv } from "./env.js";

/** The rest of the platform behind an API fixture: the built-in models, the operator and an ONNX worker for them. */
export interface Pipeline {
  operator: Operator;
  worker: RunningWorker;
  stop(): Promise<void>;
}

/**
 * `env`: more of the worker's configuration (PIXELMILL_GPUS, say), over the fixture's. `queuePrefix`:
 * the fixture's own (`api.prefix`, its QUEUE_PREFIX) for tests of what the API reads from the queues' Redis; default a fresh one.
 */
export async function startPipeline(api: ApiFixture, label: string, log: Logger, opts: { env?: Record<string, string>; queuePrefix?: string } = {}): Promise<Pipeline> {
  const models = await readManifests(join(projectRoot, "models/manifests"));
  await applyManifests(api.kc, models, api.namespace);
  const env = testEnv();
  const queuePrefix = opts.queuePrefix ?? uniqueName(label);
  const config = loadConfig({
    REDIS_URL: env.redisUrl, QUEUE_PREFIX: queuePrefix, WORKER_MODELS: models.map((m) => m.metadata!.name).join(","), WORKER_CONCURRENCY: "2",
    ...s3StorageEnv(env.s3, api.prefix),
    MODEL_CACHE_DIR: join(tmpdir(), "pixelmill-test-models"),
    ...opts.env,
  });
  // The fixture's store, as a deployment's operator has: batch jobs (docs/batch.md) list prefixes and write manifests there.
  const buckets = new BucketStores(config);
  const operator = await startOperator({
    kc: api.kc, redisUrl: env.redisUrl, queuePrefix, namespace: api.namespace, log, retryBaseDelayMs: 200, storage: { store: api.store, bucketStore: buckets.for },
  });
  const worker = await startWorker({ config, log, createRunner: inferenceRunner(config, log) });
  return {
    operator, worker,
    async stop() {
      await worker.stop();
      await operator.stop();
      buckets.close();
    },
  };
}
