import type { Server } from "node:http";
import { loadConfig } from "../common/config.js";
import { createLogger } from "../common/logger.js";
import { startHealthServer, type WorkerPhase } from "./queue/health.js";
import { inferenceRunner } from "./inference-runner.js";
import { exitOnSignals } from "./queue/shutdown.js";
import { startWorker } from "./worker.js";

/** The worker process: consume the queues of WORKER_MODELS until SIGTERM, then drain and exit. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ level: config.LOG_LEVEL, name: "worker" });
  let phase: WorkerPhase = "starting";
  const current = (): WorkerPhase => (phase === "ready" && !worker.storageAvailable() ? "paused" : phase);
  const health: Server | undefined = config.HEALTH_PORT ? await startHealthServer(config.HEALTH_PORT, current, log) : undefined;
  const worker = await startWorker({
    config,
    log,
    createRunner: inferenceRunner(config, log),
  });
  phase = "ready";
  exitOnSignals(() => {
    phase = "draining";
    return worker.stop().finally(() => health?.close());
  }, log);
}

main().catch((err: Error) => {
  process.stderr.write(`pixelmill worker: ${err.message}\n`);
  process.exit(1);
});
