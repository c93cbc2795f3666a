/**
 * Worker presence: how the autoscaler knows which pods of a WorkerPool are busy.
 *
 * A worker that runs in a pool (PIXELMILL_POOL and POD_NAME set, as the operator's Deployment
 * does) keeps one field in the Redis hash `presenceKey(prefix, namespace, pool)`: its pod name →
 * a JSON `WorkerPresence`. It writes when it starts or ends a job and every
 * PRESENCE_INTERVAL_MS, and removes its field when it stops. An entry not refreshed for
 * PRESENCE_TTL_MS belongs to a worker that died: the operator ignores it (and prunes it).
 */
export interface WorkerPresence {
  /** Jobs this worker is running now. */
  busy: number;
  /** When the entry was written (ms since the epoch). */
  at: number;
  /** When this worker last finished a job (ms since the epoch), if it has. */
  lastDone?: number;
  /** False once the worker drains: it takes no new jobs. */
  accepting: boolean;
}

export const PRESENCE_INTERVAL_MS = 5_000;
export const PRESENCE_TTL_MS = 3 * PRESENCE_INTERVAL_MS;

export function presenceKey(prefix: string, namespace: string, pool: string): string {
  return `${prefix}:presence:${namespace}:${pool}`;
}

export function parsePresence(raw: string | undefined): WorkerPresence | undefined {
  if (!raw) return undefined;
  try {
    const p = JSON.parse(raw) as Partial<WorkerPresence>;
    if (typeof p.busy !== "number" || typeof p.at !== "number") return undefined;
    return { busy: p.busy, at: p.at, lastDone: typeof p.lastDone === "number" ? p.lastDone : undefined, accepting: p.accepting !== false };
  } catch {
    return undefined;
  }
}
