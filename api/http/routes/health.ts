import { Router } from "express";
import type { Logger } from "../../../common/logger.js";
import { problem, sendProblem } from "../problem.js";

export type ReadinessChecks = Record<string, () => Promise<void>>;

const CHECK_TIMEOUT_MS = 3000;

/** /healthz: the process answers. /readyz: what requests depend on answers too (503 when not). */
export function healthRoutes(deps: { readiness: ReadinessChecks; log: Logger }): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (req, res) => {
    const entries = await Promise.all(Object.entries(deps.readiness).map(async ([name, check]) => [name, await outcome(check, name, deps.log)] as const));
    const checks = Object.fromEntries(entries);
    const failing = entries.filter(([, result]) => result !== "ok").map(([name]) => name);
    if (failing.length === 0) {
      res.json({ status: "ready", checks });
      return;
    }
    sendProblem(req, res, problem(503, "not-ready", "Not ready", `not ready: ${failing.join(", ")}`, { checks }));
  });
  return router;
}

/** "ok" or "unavailable"; the reason goes to the log, not to whoever asks. */
async function outcome(check: () => Promise<void>, name: string, log: Logger): Promise<"ok" | "unavailable"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return "ok";
  } catch (err) {
    log.warn({ check: name, err }, "Readiness check failed");
    return "unavailable";
  } finally {
    clearTimeout(timer);
  }
}
