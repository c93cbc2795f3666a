import type { FailureReason } from "./job/failure-reasons.js";

/** Base of the project's own errors: a stable `code` for logs, problem types and conditions. */
export class PixelmillError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Configuration that cannot work: raised at boot, so the process fails fast with the reason. */
export class ConfigError extends PixelmillError {
  constructor(message: string) {
    super("ConfigError", message);
  }
}

export class ObjectNotFoundError extends PixelmillError {
  constructor(readonly key: string) {
    super("ObjectNotFound", `no object at ${key}`);
  }
}

export class InvalidObjectKeyError extends PixelmillError {
  constructor(readonly key: string, reason: string) {
    super("InvalidObjectKey", `invalid object key ${JSON.stringify(key)}: ${reason}`);
  }
}

/**
 * A job that fails for a reason the worker can name (common/job/failure-reasons.ts): the
 * reason becomes the ImageJob's status.reason, and unrecoverable reasons are not retried.
 */
export class JobFailure extends PixelmillError {
  constructor(
    readonly reason: FailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(reason, message, options);
  }
}

/**
 * The first line of an error's message (or of a string), trimmed: native errors (onnxruntime,
 * libvips) run to many lines, and logs and job messages keep one. Empty when there is none.
 */
export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split("\n", 1)[0] ?? "").trim();
}

/**
 * A service a new job needs (storage, the queue's Redis) was found unavailable: the job is refused
 * before anything is created, since it could not be kept.
 */
export class DependencyUnavailableError extends PixelmillError {
  constructor(readonly dependency: string, options?: { cause?: unknown }) {
    super("DependencyUnavailable", `${dependency} is unavailable`, options);
  }
}
