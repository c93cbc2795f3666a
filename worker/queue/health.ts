import type { Server } from "node:http";
import type { Logger } from "../../common/logger.js";
import type { Registry } from "../../common/metrics.js";
import { startOpsServer } from "../../common/ops-server.js";

/** `paused`: the worker takes no jobs while its storage does not answer. */
export type WorkerPhase = "starting" | "ready" | "paused" | "draining";

/**
 * The worker's probes and metrics (common/ops-server.ts): `/readyz` answers 200 only while the
 * worker takes jobs, so a draining or paused pod leaves its Deployment's ready count at once.
 */
export function startHealthServer(port: number, phase: () => WorkerPhase, log: Logger, registry?: Registry): Promise<Server> {
  return startOpsServer(port, phase, log, registry);
}
