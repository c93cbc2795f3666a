import { InvalidRequestError } from "./errors.js";
import type { JobCursor } from "./ports.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Opaque to clients: base64url of the last item's created_at and uid. */
export function encodeCursor(c: JobCursor): string {
  return Buffer.from(JSON.stringify([c.createdAt.toISOString(), c.uid])).toString("base64url");
}

export function decodeCursor(cursor: string): JobCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed) && parsed.length === 2) {
    const [at, uid] = parsed as unknown[];
    const createdAt = typeof at === "string" ? new Date(at) : new Date(NaN);
    if (!Number.isNaN(createdAt.getTime()) && typeof uid === "string" && isUuid(uid)) return { createdAt, uid };
  }
  throw new InvalidRequestError("cursor is not one this API handed out");
}
