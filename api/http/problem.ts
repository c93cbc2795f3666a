import type { ErrorRequestHandler, Request, RequestHandler, Response } from "express";
import { DependencyUnavailableError, ObjectNotFoundError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import {
  BatchExpiredError, BatchNotFinishedError, IdempotencyKeyInProgressError, InvalidJobError, NotABatchError, IdempotencyKeyReusedError, InvalidRequestError, JobFinishedError, JobNotFoundError,
  InvalidModelError, JobRejectedError, KeyNotActiveError, MissingScopeError, ModelExistsError, ModelRejectedError, NotFoundError, RateLimitedError, TenantCapError, TenantExistsError, TenantProtectedError, UnauthenticatedError, UnknownModelError, UnsupportedImageTypeError,
  UploadTooLargeError, OutputNotReadyError, OutputExpiredError,
} from "../domain/errors.js";
import { ForbiddenError, FormTooLargeError, UnsupportedMediaTypeError } from "./http-errors.js";
import { requestIdOf } from "./request-id.js";

const TYPE_BASE = "https://pixelmill.io/problems/";

/** An RFC 9457 problem; extension members go next to the standard ones. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

export function problem(status: number, slug: string, title: string, detail: string, extensions: Record<string, unknown> = {}): Problem {
  return { type: TYPE_BASE + slug, title, status, detail, ...extensions };
}

export function sendProblem(req: Request, res: Response, p: Problem): void {
  // Refusing a body we did not read: closing spares reading the rest of it.
  if (p.status === 413 || p.status === 429) res.setHeader("Connection", "close");
  if (p.status === 503) res.setHeader("Retry-After", "5");
  if (p.status === 429 && typeof p.retry_after === "number") res.setHeader("Retry-After", String(p.retry_after));
  if (p.status === 401) res.setHeader("WWW-Authenticate", "Bearer");
  res.status(p.status).type("application/problem+json").send(JSON.stringify({ ...p, instance: req.originalUrl, request_id: requestIdOf(res) }));
}

/** The problem an error stands for; undefined for errors that are our fault (500). */
function problemOf(err: unknown): Problem | undefined {
  if (err instanceof InvalidRequestError) {
    return problem(400, "invalid-request", "Invalid request", err.message, err.issues ? { errors: err.issues } : {});
  }
  // An upload that is not an image, or too large, is refused as its request's body would be.
  if (err instanceof UnsupportedMediaTypeError || err instanceof UnsupportedImageTypeError) {
    return problem(415, "unsupported-media-type", "Unsupported media type", err.message);
  }
  if (err instanceof UploadTooLargeError) {
    return problem(413, "payload-too-large", "Payload too large", err.message, { limit: err.limit });
  }
  if (err instanceof FormTooLargeError) {
    return problem(413, "payload-too-large", "Payload too large", err.message, { limit: err.limit, unit: err.unit });
  }
  if (err instanceof UnknownModelError) return problem(422, "unknown-model", "Unknown model", err.message, { model: err.model });
  if (err instanceof InvalidJobError) return problem(422, "invalid-job", "Invalid job", err.message);
  if (err instanceof JobRejectedError) return problem(422, "job-rejected", "ImageJob refused by the Kubernetes API", err.message);
  if (err instanceof InvalidModelError) return problem(422, "invalid-model", "Invalid model", err.message);
  if (err instanceof ModelRejectedError) return problem(422, "model-rejected", "ImageModel refused by the Kubernetes API", err.message);
  if (err instanceof ModelExistsError) return problem(409, "model-exists", "Model exists", err.message, { model: err.model });
  if (err instanceof UnauthenticatedError) return problem(401, "unauthenticated", "Unauthenticated", err.message);
  if (err instanceof MissingScopeError) return problem(403, "missing-scope", "Missing scope", err.message, { scope: err.scope });
  if (err instanceof NotFoundError) return problem(404, "not-found", "Not found", err.message);
  if (err instanceof KeyNotActiveError) return problem(409, "key-not-active", "Key not active", err.message);
  if (err instanceof TenantExistsError) return problem(409, "tenant-exists", "Tenant exists", err.message);
  if (err instanceof TenantProtectedError) return problem(409, "tenant-protected", "Tenant protected", err.message);
  if (err instanceof JobNotFoundError) return problem(404, "not-found", "Not found", err.message);
  if (err instanceof ObjectNotFoundError) return problem(404, "not-found", "Not found", "there is no such file");
  if (err instanceof JobFinishedError) return problem(409, "job-finished", "Job already finished", err.message, { job_status: err.phase.toLowerCase() });
  if (err instanceof NotABatchError) return problem(409, "not-a-batch", "Not a batch", err.message);
  if (err instanceof BatchNotFinishedError) return problem(409, "batch-not-finished", "Batch not finished", err.message, { job_status: err.phase.toLowerCase() });
  if (err instanceof BatchExpiredError) return problem(410, "batch-expired", "Batch expired", err.message);
  if (err instanceof OutputNotReadyError) return problem(409, "output-not-ready", "No output yet", err.message, { job_status: err.phase.toLowerCase() });
  if (err instanceof OutputExpiredError) return problem(410, "output-expired", "Output expired", err.message);
  if (err instanceof IdempotencyKeyReusedError) return problem(422, "idempotency-key-reused", "Idempotency-Key reused", err.message);
  if (err instanceof IdempotencyKeyInProgressError) return problem(409, "idempotency-key-in-progress", "Request in progress", err.message);
  if (err instanceof RateLimitedError) {
    return problem(429, "rate-limited", "Too many requests", err.message, { limit: err.limit, retry_after: err.retryAfterSeconds });
  }
  if (err instanceof TenantCapError) {
    return problem(429, "tenant-cap", "Tenant cap reached", err.message, {
      cap: err.cap, limit: err.limit, ...(err.retryAfterSeconds === undefined ? {} : { retry_after: err.retryAfterSeconds }),
    });
  }
  if (err instanceof ForbiddenError) return problem(403, "forbidden", "Forbidden", err.message);
  if (err instanceof DependencyUnavailableError) {
    return problem(503, "unavailable", "Service unavailable", `${err.dependency} is unavailable now; nothing was accepted or changed, retry later`, { dependency: err.dependency });
  }
  if (unreachable(err)) {
    return problem(503, "unavailable", "Service unavailable", "a service the API depends on (the Kubernetes API, Postgres or storage) cannot be reached; nothing was accepted, retry later");
  }
  return bodyParserProblem(err);
}

const UNREACHABLE = new Set(["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EPIPE", "EAI_AGAIN"]);

/**
 * A dependency down (connection refused, reset, timed out), found on the error or its causes; the
 * S3 client's deadlines (no connection, no answer, a stalled transfer) raise a TimeoutError.
 */
function unreachable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (UNREACHABLE.has(String((e as { code?: unknown }).code)) || (e as { name?: unknown }).name === "TimeoutError") return true;
  }
  return false;
}

/**
 * express.json's errors carry a `type` and a 4xx `status`, except a body that fails to inflate
 * (Content-Encoding: gzip over bytes that are not): an http-errors 400, `expose` but no `type`.
 */
function bodyParserProblem(err: unknown): Problem | undefined {
  const e = err as { type?: unknown; status?: unknown; message?: unknown; expose?: unknown };
  if ((typeof e?.type !== "string" && e?.expose !== true) || typeof e.status !== "number" || e.status < 400 || e.status >= 500) return undefined;
  if (e.type === "entity.parse.failed") return problem(400, "malformed-json", "Malformed JSON", "the request body is not valid JSON");
  if (e.type === "entity.too.large") return problem(413, "payload-too-large", "Payload too large", "the request body is too large");
  const detail = typeof e.message === "string" ? e.message : "the request body cannot be read";
  if (e.status === 415) return problem(415, "unsupported-media-type", "Unsupported media type", detail);
  return problem(e.status, "invalid-request", "Invalid request", detail);
}

export function notFound(): RequestHandler {
  return (req, res) => sendProblem(req, res, problem(404, "not-found", "Not found", `no route for ${req.method} ${req.path}`));
}

/** Last in the chain: every error becomes a problem; unexpected ones are logged and answered without detail. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const known = problemOf(err);
    if (!known) log.error({ err, method: req.method, path: req.path }, "Request failed");
    else if (known.status === 503) log.warn({ err: (err as Error).message, method: req.method, path: req.path }, "Dependency unavailable");
    if (res.headersSent) {
      res.end();
      return;
    }
    sendProblem(req, res, known ?? problem(500, "internal", "Internal server error", "the server could not handle the request; the error has been logged"));
  };
}
