import { createHash } from "node:crypto";
import type { JobRequest } from "./submit-job.js";

/**
 * sha256 (hex) of what a job request asks for, for Idempotency-Key: its fields in a canonical
 * JSON (keys sorted), and for an upload the sha256 of its bytes instead of its key (each upload
 * gets a fresh key, so the same image sent twice must compare equal).
 */
export function requestHash(request: JobRequest, uploadSha256?: string): string {
  const { input, ...rest } = request;
  const canonical = canonicalJson({ ...rest, input: uploadSha256 === undefined ? input : { sha256: uploadSha256 } });
  return createHash("sha256").update(canonical).digest("hex");
}

/** JSON with object keys sorted at every depth, and undefined members left out. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
