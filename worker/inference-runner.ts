import type { Config } from "../common/config.js";
import type { Logger } from "../common/logger.js";
import { Inference } from "./inference/engine.js";
import type { StartWorkerOptions } from "./worker.js";

type InferenceConfig = Pick<Config, "MODEL_CACHE_DIR" | "PIXELMILL_EXECUTION_PROVIDERS" | "MAX_INPUT_PIXELS" | "FETCH_MAX_BYTES" | "FETCH_TIMEOUT_MS" | "WORKER_CONCURRENCY">;

/** The worker's inference engine as its configuration sets it up: the process's and every test's that runs real models. */
export function inferenceRunner(config: InferenceConfig, log: Logger): StartWorkerOptions["createRunner"] {
  return ({ objectStoreFor }) => new Inference({
    cacheDir: config.MODEL_CACHE_DIR,
    executionProviders: config.PIXELMILL_EXECUTION_PROVIDERS,
    maxInputPixels: config.MAX_INPUT_PIXELS,
    fetchMaxBytes: config.FETCH_MAX_BYTES,
    fetchTimeoutMs: config.FETCH_TIMEOUT_MS,
    objectStoreFor,
    concurrency: config.WORKER_CONCURRENCY,
    log: log.child({ component: "inference" }),
  });
}
