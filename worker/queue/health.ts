import { createServer, type Server } from "node:http";
import type { Logger } from "../../common/logger.js";

/** `paused`: the worker takes no jobs while its storage does not answer. */
export type WorkerPhase = "starting" | "ready" | "paused" | "draining";

/**
 * The worker's probes on HEALTH_PORT: `/healthz` answers 200 while the process lives; `/readyz`
 * answers 200 only while the worker takes jobs, so a draining pod leaves its Deployment's ready
 * count at once. Plain node:http: the worker has no other HTTP surface.
 */
export async function startHealthServer(port: number, phase: () => WorkerPhase, log: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const current = phase();
    const [status, body] = path === "/healthz" ? [200, "ok"] : path === "/readyz" ? (current === "ready" ? [200, "ready"] : [503, current]) : [404, "not found"];
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve());
  });
  log.info({ port }, "Health server listening");
  return server;
}
