import type { Redis } from "ioredis";
import { parsePoolSample, poolHistoryKey, type PoolSample } from "../../common/pool-history.js";
import type { PoolHistory } from "../domain/ports.js";

/** The operator's pool samples (common/pool-history.ts), every pool's list in one round trip. */
export class RedisPoolHistory implements PoolHistory {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async since(pools: readonly { namespace: string; name: string }[], since: number): Promise<PoolSample[][]> {
    if (pools.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const p of pools) pipeline.lrange(poolHistoryKey(this.prefix, p.namespace, p.name), 0, -1);
    const replies = (await pipeline.exec()) ?? [];
    return pools.map((_, i) => {
      const [err, raw] = replies[i] ?? [new Error("no reply")];
      if (err) throw err;
      return (raw as string[]).map(parsePoolSample).filter((s): s is PoolSample => s !== undefined && s.at >= since);
    });
  }
}
