import { Router, type ErrorRequestHandler, type NextFunction, type Request, type Response } from "express";
import { counter, DURATION_BUCKETS, histogram, metricsResponse, type Registry } from "../../common/metrics.js";
import { RateLimitedError, TenantCapError, type TenantCap } from "../domain/errors.js";

/**
 * Counts every request by method, route pattern (`/v1/jobs/:id`, never the raw path; "unmatched"
 * when no route took it) and status code, and times it. Mount before the routes.
 */
export function httpMetrics(registry: Registry): (req: Request, res: Response, next: NextFunction) => void {
  const requests = counter(registry, "pixelmill_http_requests_total", "HTTP requests by method, route pattern and status code.", ["method", "route", "code"]);
  const duration = histogram(registry, "pixelmill_http_request_duration_seconds", "HTTP request duration by method and route pattern.", ["method", "route"], DURATION_BUCKETS);
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once("finish", () => {
      const pattern = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof pattern === "string" ? `${req.baseUrl}${pattern}` : "unmatched";
      const method = req.method;
      requests.inc({ method, route, code: String(res.statusCode) });
      duration.observe({ method, route }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

/** The `limit` label of each refusal with 429 (ADR 0009). */
const LIMIT_LABELS: Record<TenantCap, string> = { "active-jobs": "active_jobs", "upload-bytes-per-day": "upload_bytes_per_day" };

/**
 * Counts the requests refused with 429 by the limit that refused them: requests_per_minute (the
 * key's rate), active_jobs or upload_bytes_per_day (the tenant's caps). Mount just before the
 * error handler, which answers them; other errors pass through untouched.
 */
export function rateLimitMetrics(registry: Registry): ErrorRequestHandler {
  const refused = counter(registry, "pixelmill_rate_limited_requests_total", "Requests refused with 429 by limit (requests_per_minute, active_jobs, upload_bytes_per_day).", ["limit"]);
  return (err: unknown, _req, _res, next) => {
    if (err instanceof RateLimitedError) refused.inc({ limit: "requests_per_minute" });
    else if (err instanceof TenantCapError) refused.inc({ limit: LIMIT_LABELS[err.cap] });
    next(err);
  };
}

/** `GET /metrics`: the registry in Prometheus' text format, without a key (like /healthz). */
export function metricsRoutes(registry: Registry): Router {
  const router = Router();
  router.get("/metrics", async (_req, res) => {
    const { contentType, body } = await metricsResponse(registry);
    res.set("cache-control", "no-store").type(contentType).send(body);
  });
  return router;
}
