import { randomUUID } from "node:crypto";

/**
 * Request ids follow one request through the platform: the API takes the caller's `X-Request-Id`
 * (or makes one), answers with it, logs it, and stamps it on the ImageJob it creates as this
 * annotation; the operator copies it into the queue message (QueueJobData.requestId) and the
 * worker logs it. Log lines name it `requestId`, beside `jobUid` (docs/metrics.md).
 */
export const REQUEST_ID_HEADER = "x-request-id";
export const REQUEST_ID_ANNOTATION = "pixelmill.io/request-id";

/** What a caller's id may be: short, and nothing a log line or a header could be bent by. */
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's id when it is well-formed, else undefined. */
export function acceptRequestId(value: unknown): string | undefined {
  return typeof value === "string" && WELL_FORMED.test(value) ? value : undefined;
}

/** The caller's well-formed id, or a new one. */
export function requestIdFor(value: unknown): string {
  return acceptRequestId(value) ?? randomUUID();
}
