import { loadConfig } from "../common/config.js";
import { createLogger } from "../common/logger.js";
import { Inference } from "./inference/index.js";
import { exitOnSignals } from "./shutdown.js";
import { startWorker } from "./worker.js";

/** The worker process: consume the queues of WORKER_MODELS until SIGTERM, then drain and exit. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ level: config.LOG_LEVEL, name: "worker" });
  const worker = await startWorker({
    config,
    log,
    createRunner: ({ objectStoreFor }) => new Inference({
      cacheDir: config.MODEL_CACHE_DIR,
      executionProviders: config.PIXELMILL_EXECUTION_PROVIDERS,
      maxInputPixels: config.MAX_INPUT_PIXELS,
      fetchMaxBytes: config.FETCH_MAX_BYTES,
      fetchTimeoutMs: config.FETCH_TIMEOUT_MS,
      objectStoreFor,
      log: log.child({ component: "inference" }),
    }),
  });
  exitOnSignals(worker.stop, log);
}

main().catch((err: Error) => {
  process.stderr.write(`pixelmill worker: ${err.message}\n`);
  process.exit(1);
});
