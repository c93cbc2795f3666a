import type { Redis } from "ioredis";
import type { Logger } from "../../../common/logger.js";
import { POOL_HISTORY_MAX, POOL_HISTORY_TTL_SECONDS, POOL_SAMPLE_INTERVAL_MS, poolHistoryKey, type PoolSample } from "../../../common/pool-history.js";

/**
 * Records each WorkerPool's replicas and demand in Redis for the console's last-hour chart
 * (common/pool-history.ts): at most one sample per pool per interval, whatever the reconcile
 * rate. A sample's `waiting` and `inFlight` are the most seen since the one before, so a burst
 * of jobs between two samples still shows. Best effort: a sample Redis refuses is logged and
 * skipped, never a failed reconcile.
 */
export class PoolSampler {
  /** Per pool key: when its latest sample was taken. */
  private readonly latest = new Map<string, number>();
  /** Per pool key: the most jobs waiting and in flight seen since its latest sample. */
  private readonly peaks = new Map<string, { waiting: number; inFlight: number }>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly intervalMs = POOL_SAMPLE_INTERVAL_MS,
  ) {}

  /** Appends the sample unless the pool has one less than an interval old; true when it did. */
  async record(namespace: string, pool: string, sample: PoolSample): Promise<boolean> {
    const key = `${namespace}/${pool}`;
    const last = this.latest.get(key);
    const before = this.peaks.get(key);
    const peak = { waiting: Math.max(sample.waiting, before?.waiting ?? 0), inFlight: Math.max(sample.inFlight, before?.inFlight ?? 0) };
    if (last !== undefined && sample.at - last < this.intervalMs) {
      this.peaks.set(key, peak);
      return false;
    }
    this.latest.set(key, sample.at);
    this.peaks.delete(key);
    const list = poolHistoryKey(this.prefix, namespace, pool);
    try {
      const replies = await this.redis.multi()
        .rpush(list, JSON.stringify({ ...sample, ...peak }))
        .ltrim(list, -POOL_HISTORY_MAX, -1)
        .expire(list, POOL_HISTORY_TTL_SECONDS)
        .exec();
      const failed = replies?.find(([err]) => err)?.[0];
      if (!replies || failed) throw failed ?? new Error("the pool sample transaction was aborted");
      return true;
    } catch (err) {
      // Tried again at the next reconcile, not an interval later.
      if (this.latest.get(key) === sample.at) {
        if (last === undefined) this.latest.delete(key);
        else this.latest.set(key, last);
        this.peaks.set(key, peak);
      }
      this.log.warn({ err, pool: key }, "Could not record a pool sample");
      return false;
    }
  }

  /** A deleted pool: its list expires on its own. */
  forget(namespace: string, pool: string): void {
    this.latest.delete(`${namespace}/${pool}`);
    this.peaks.delete(`${namespace}/${pool}`);
  }
}
