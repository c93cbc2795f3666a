import { join } from "node:path";
import { tmpdir } from "node:os";
import { loadConfig } from "../../common/config.js";
import type { Logger } from "../../common/logger.js";
import { startOperator, type Operator } from "../../operator/operator.js";
import { startWorker, type RunningWorker } from "../../worker/worker.js";
import { Inference } from "../../worker/inference/engine.js";
import { projectRoot } from "../../devstack/binaries.js";
import { applyManifests, readManifests } from "../../devstack/manifests.js";
import type { ApiFixture } from "./api-fixture.js";
import { testEnv, uniqueName } from "./env.js";

/** The rest of the platform behind an API fixture: the built-in models, the operator and an ONNX worker for them. */
export interface Pipeline {
  operator: Operator;
  worker: RunningWorker;
  stop(): Promise<void>;
}

/** `env`: more of the worker's configuration (PIXELMILL_GPUS, say), over the fixture's. */
export async function startPipeline(api: ApiFixture, label: string, log: Logger, opts: { env?: Record<string, string> } = {}): Promise<Pipeline> {
  const models = await readManifests(join(projectRoot, "models/manifests"));
  await applyManifests(api.kc, models, api.namespace);
  const env = testEnv();
  const queuePrefix = uniqueName(label);
  const operator = await startOperator({ kc: api.kc, redisUrl: env.redisUrl, queuePrefix, namespace: api.namespace, log, retryBaseDelayMs: 200 });
  const config = loadConfig({
    REDIS_URL: env.redisUrl, QUEUE_PREFIX: queuePrefix, WORKER_MODELS: models.map((m) => m.metadata!.name).join(","), WORKER_CONCURRENCY: "2",
    STORAGE_URL: `s3://${env.s3.bucket}/${api.prefix}`, S3_ENDPOINT: env.s3.endpoint, S3_REGION: env.s3.region,
    S3_ACCESS_KEY_ID: env.s3.accessKeyId, S3_SECRET_ACCESS_KEY: env.s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true",
    MODEL_CACHE_DIR: join(tmpdir(), "pixelmill-test-models"),
    ...opts.env,
  });
  const worker = await startWorker({
    config, log,
    createRunner: ({ objectStoreFor }) => new Inference({
      cacheDir: config.MODEL_CACHE_DIR, executionProviders: config.PIXELMILL_EXECUTION_PROVIDERS, maxInputPixels: config.MAX_INPUT_PIXELS,
      fetchMaxBytes: config.FETCH_MAX_BYTES, fetchTimeoutMs: config.FETCH_TIMEOUT_MS, objectStoreFor, log,
    }),
  });
  return {
    operator, worker,
    async stop() {
      await worker.stop();
      await operator.stop();
    },
  };
}
