import { createHash } from "node:crypto";
import { canonicalJson as canonicalJsonOf } from "../../common/canonical-json.js";
import { InvalidRequestError } from "./errors.js";
import type { JobRequest } from "./submit-job.js";

/**
 * sha256 (hex) of what a job request asks for, for Idempotency-Key: its fields in a canonical
 * JSON (keys sorted), and for an upload the sha256 of its bytes instead of its key (each upload
 * gets a fresh key, so the same image sent twice must compare equal), without the file's name.
 */
export function requestHash(request: JobRequest, uploadSha256?: string): string {
  // The file's name is shown, not processed: a retry naming it otherwise asks for the same job.
  const { input, inputFilename: _, ...rest } = request;
  const canonical = canonicalJson({ ...rest, input: uploadSha256 === undefined ? input : { sha256: uploadSha256 } });
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * How deep canonicalJson goes. A job request is shallow (params are scalars, checked before it is
 * hashed); the bound keeps a request that slipped past those checks a 400, not a stack overflow.
 */
export const MAX_CANONICAL_DEPTH = 16;

/** JSON with object keys sorted at every depth, and undefined members left out; InvalidRequestError past MAX_CANONICAL_DEPTH. */
export function canonicalJson(value: unknown): string {
  return canonicalJsonOf(value, MAX_CANONICAL_DEPTH, () => new InvalidRequestError(`the request is nested more than ${MAX_CANONICAL_DEPTH} deep`));
}
