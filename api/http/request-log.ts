import type { RequestHandler } from "express";
import type { Logger } from "../../common/logger.js";
import { requestIdOf } from "./request-id.js";

const QUIET = new Set(["/healthz", "/readyz"]);

/** One line per request when its response ends (SSE streams: when they close). */
export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on("close", () => {
      const fields = {
        requestId: requestIdOf(res),
        method: req.method,
        path: req.path,
        status: res.statusCode,
        durationMs: Number((process.hrtime.bigint() - started) / 1_000_000n),
      };
      if (QUIET.has(req.path)) log.debug(fields, "Request handled");
      else log.info(fields, "Request handled");
    });
    next();
  };
}
