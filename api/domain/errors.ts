import { PixelmillError } from "../../common/errors.js";

// The use cases' errors, in the domain's terms; the API's edge decides how a caller hears of each.

/** Input the use cases refuse (a malformed cursor, a job request that breaks the rules), with the issues found. */
export class InvalidRequestError extends PixelmillError {
  constructor(message: string, readonly issues?: readonly { path: PropertyKey[]; code: string; message: string }[]) {
    super("InvalidRequest", message);
  }
}

/** An upload whose first bytes are not an image format the workers read. */
export class UnsupportedImageTypeError extends PixelmillError {
  constructor(message: string) {
    super("UnsupportedImageType", message);
  }
}

/** An upload over the configured limit (MAX_UPLOAD_BYTES). */
export class UploadTooLargeError extends PixelmillError {
  constructor(readonly limit: number) {
    super("UploadTooLarge", `the upload is larger than ${limit} bytes`);
  }
}

export class UnknownModelError extends PixelmillError {
  constructor(readonly model: string) {
    super("UnknownModel", `there is no ImageModel named ${JSON.stringify(model)}`);
  }
}

/** A job the API can tell will fail: params the model does not take, an input bucket or address workers may not read from. */
export class InvalidJobError extends PixelmillError {
  constructor(message: string) {
    super("InvalidJob", message);
  }
}

/** The apiserver refused the ImageJob (schema or CEL validation); the message is its own. */
export class JobRejectedError extends PixelmillError {
  constructor(message: string) {
    super("JobRejected", message);
  }
}

export class JobNotFoundError extends PixelmillError {
  constructor(readonly id: string) {
    super("JobNotFound", `there is no job ${JSON.stringify(id)}`);
  }
}

/** A job the database refuses as data (not for being away): retrying cannot help. */
export class UnstorableJobError extends PixelmillError {
  constructor(readonly uid: string, message: string, options?: { cause?: unknown }) {
    super("UnstorableJob", message, options);
  }
}

/** DELETE of a job that has already succeeded or failed: there is nothing left to cancel. */
export class JobFinishedError extends PixelmillError {
  constructor(readonly id: string, readonly phase: string) {
    super("JobFinished", `job ${id} has already finished (${phase.toLowerCase()}); only a pending, queued or running job can be canceled`);
  }
}

/** An Idempotency-Key seen within 24 h with a different request. */
export class IdempotencyKeyReusedError extends PixelmillError {
  constructor() {
    super("IdempotencyKeyReused", "this Idempotency-Key was used in the last 24 hours with a different request");
  }
}

/** An Idempotency-Key whose first request is still creating its job. */
export class IdempotencyKeyInProgressError extends PixelmillError {
  constructor() {
    super("IdempotencyKeyInProgress", "a request with this Idempotency-Key is still being handled; retry shortly");
  }
}


/** No usable API key: none, malformed, unknown, revoked or expired. The detail never says which of the last three. */
export class UnauthenticatedError extends PixelmillError {
  constructor(message: string) {
    super("Unauthenticated", message);
  }
}

/** A valid key without the scope the route needs. */
export class MissingScopeError extends PixelmillError {
  constructor(readonly scope: string) {
    super("MissingScope", `the API key lacks the scope ${scope}`);
  }
}

/** A tenant name or namespace that another tenant has. */
export class TenantExistsError extends PixelmillError {
  constructor(message: string) {
    super("TenantExists", message);
  }
}

/** A tenant that cannot be changed so: the platform tenant cannot be disabled. */
export class TenantProtectedError extends PixelmillError {
  constructor(message: string) {
    super("TenantProtected", message);
  }
}

/** A tenant (by name) or key (by id) that does not exist or is not the caller's to see. */
export class NotFoundError extends PixelmillError {
  constructor(message: string) {
    super("NotFound", message);
  }
}

/** A key that cannot be rotated: revoked (or rotated) already, or expired. */
export class KeyNotActiveError extends PixelmillError {
  constructor(message: string) {
    super("KeyNotActive", message);
  }
}

/** A key that spent its requests for the window (RATE_LIMIT_PER_MINUTE, or its tenant's override). */
export class RateLimitedError extends PixelmillError {
  constructor(readonly limit: number, readonly retryAfterSeconds: number) {
    super("RateLimited", `this API key may make ${limit} requests a minute; retry in ${retryAfterSeconds} s`);
  }
}

/** Which per-tenant cap a submit would exceed. */
export type TenantCap = "active-jobs" | "upload-bytes-per-day";

/** A submit over one of its tenant's caps; `retryAfterSeconds` when waiting is known to help. */
export class TenantCapError extends PixelmillError {
  constructor(readonly cap: TenantCap, readonly limit: number, message: string, readonly retryAfterSeconds?: number) {
    super("TenantCap", message);
  }
}

/** POST /v1/models with a name the caller's namespace has a model of already: never overwritten. */
export class ModelExistsError extends PixelmillError {
  constructor(readonly model: string, readonly namespace: string) {
    super("ModelExists", `namespace ${namespace} has an ImageModel named ${JSON.stringify(model)} already; delete it first or choose another name`);
  }
}

/** An uploaded model that is not one (onnxruntime cannot load it, a TF.js model that cannot be converted) or does not fit its contract. */
export class InvalidModelError extends PixelmillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("InvalidModel", message, options);
  }
}

/** The apiserver refused the ImageModel (schema or CEL validation); the message is its own. */
export class ModelRejectedError extends PixelmillError {
  constructor(message: string) {
    super("ModelRejected", message);
  }
}

/** A batch route (items, manifest) asked of a job that is not a batch. */
export class NotABatchError extends PixelmillError {
  constructor(readonly id: string) {
    super("NotABatch", `job ${id} is a single job, not a batch: its output is on the job itself`);
  }
}

/** The manifest of a batch that has not finished: it is written when the last item ends. */
export class BatchNotFinishedError extends PixelmillError {
  constructor(readonly id: string, readonly phase: string) {
    super("BatchNotFinished", `batch ${id} is ${phase.toLowerCase()}: its manifest is written when every item has finished; list its items meanwhile`);
  }
}

/** A batch whose item outputs and manifest the retention sweeper has deleted. */
export class BatchExpiredError extends PixelmillError {
  constructor(readonly id: string, readonly at: Date) {
    super("BatchExpired", `batch ${id}'s item outputs and manifest were deleted at ${at.toISOString()} (output retention)`);
  }
}

/** GET /v1/jobs/:id/output of a job that has no output: not succeeded (yet), or a batch (whose output is its manifest). */
export class OutputNotReadyError extends PixelmillError {
  constructor(readonly id: string, readonly phase: string, detail?: string) {
    super("OutputNotReady", detail ?? `job ${id} is ${phase.toLowerCase()}: it has an output once it has succeeded`);
  }
}

/** GET /v1/jobs/:id/output (or input) of a job whose files the retention sweeper has deleted. */
export class OutputExpiredError extends PixelmillError {
  constructor(readonly id: string, readonly at: Date) {
    super("OutputExpired", `job ${id}'s output and upload were deleted at ${at.toISOString()} (output retention)`);
  }
}
