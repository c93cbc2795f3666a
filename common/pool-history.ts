/**
 * A WorkerPool's recent past, for the console's chart (GET /v1/pools `history`).
 *
 * The operator's WorkerPool reconciler appends a JSON `PoolSample` to the Redis list
 * `poolHistoryKey(prefix, namespace, pool)` at most once per POOL_SAMPLE_INTERVAL_MS per pool,
 * keeps the newest POOL_HISTORY_MAX and sets the key to expire POOL_HISTORY_TTL_SECONDS after the
 * latest sample, so a deleted pool's history goes with it. The API reads the list and drops
 * samples older than POOL_HISTORY_WINDOW_MS. Replicas are as the sample was taken; `waiting` and
 * `inFlight` are the most seen since the sample before, so a burst between two still shows.
 */
export interface PoolSample {
  /** When it was taken (ms since the epoch). */
  at: number;
  desired: number;
  ready: number;
  pending: number;
  waiting: number;
  inFlight: number;
}

export const POOL_SAMPLE_INTERVAL_MS = 30_000;
export const POOL_HISTORY_WINDOW_MS = 3600_000;
/** One hour of samples at one per POOL_SAMPLE_INTERVAL_MS. */
export const POOL_HISTORY_MAX = POOL_HISTORY_WINDOW_MS / POOL_SAMPLE_INTERVAL_MS;
export const POOL_HISTORY_TTL_SECONDS = POOL_HISTORY_WINDOW_MS / 1000;

export function poolHistoryKey(prefix: string, namespace: string, pool: string): string {
  return `${prefix}:pool-history:${namespace}:${pool}`;
}

const FIELDS = ["at", "desired", "ready", "pending", "waiting", "inFlight"] as const;

/** A stored sample, or undefined for one that is not (a foreign or damaged entry is skipped, not fatal). */
export function parsePoolSample(raw: string): PoolSample | undefined {
  try {
    const s = JSON.parse(raw) as Record<string, unknown>;
    if (!FIELDS.every((f) => typeof s[f] === "number" && Number.isFinite(s[f]))) return undefined;
    return Object.fromEntries(FIELDS.map((f) => [f, s[f]])) as unknown as PoolSample;
  } catch {
    return undefined;
  }
}
