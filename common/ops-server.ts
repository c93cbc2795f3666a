import { createServer, type Server } from "node:http";
import type { Logger } from "./logger.js";
import { metricsResponse, processRegistry, type Registry } from "./metrics.js";

/**
 * The probes and metrics of a process without an HTTP API of its own (the worker, the operator)
 * on HEALTH_PORT: `/healthz` 200 while the process lives; `/readyz` 200 while `readiness()` says
 * ready, else 503 with its word (starting, draining, paused...); `/metrics` the registry (the
 * process's by default) in Prometheus' text format. Plain node:http: nothing else is served.
 */
export async function startOpsServer(
  port: number, readiness: () => "ready" | (string & {}), log: Logger, registry: Registry = processRegistry(),
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path === "/metrics") {
      metricsResponse(registry).then(
        ({ contentType, body }) => res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" }).end(body),
        (err: unknown) => {
          log.warn({ err: String(err) }, "Could not collect the metrics");
          res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("metrics unavailable");
        },
      );
      return;
    }
    const state = path === "/readyz" ? readiness() : undefined;
    const [status, body] = path === "/healthz" ? [200, "ok"] : state !== undefined ? [state === "ready" ? 200 : 503, state] : [404, "not found"];
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve());
  });
  log.info({ port }, "Health server listening");
  return server;
}
