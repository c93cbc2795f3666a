import type { Redis } from "ioredis";
import { batchKey, parseBatchItemResult, type BatchItemResult } from "../../common/batch.js";
import { DependencyUnavailableError } from "../../common/errors.js";
import type { BatchItemSource } from "../domain/batch-items.js";

/**
 * A running batch's items, read from the hashes the operator (inputs) and the workers (results)
 * write (common/batch.ts): one HMGET of each for a page's index range. A Redis that does not
 * answer is DependencyUnavailableError (503).
 */
export class RedisBatchItems implements BatchItemSource {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async total(uid: string): Promise<number> {
    return unavailableAsRedis(() => this.redis.hlen(batchKey(this.prefix, uid, "inputs")));
  }

  async range(uid: string, from: number, count: number): Promise<Array<{ input?: string; result?: BatchItemResult }>> {
    if (count <= 0) return [];
    const fields = Array.from({ length: count }, (_, i) => String(from + i));
    const [inputs, results] = await unavailableAsRedis(() => Promise.all([
      this.redis.hmget(batchKey(this.prefix, uid, "inputs"), ...fields),
      this.redis.hmget(batchKey(this.prefix, uid, "results"), ...fields),
    ]));
    return fields.map((_, i) => {
      const result = results[i] ? parseBatchItemResult(results[i]) : undefined;
      const input = inputs[i] ?? undefined;
      return { ...(input === undefined ? {} : { input }), ...(result ? { result } : {}) };
    });
  }
}

async function unavailableAsRedis<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw new DependencyUnavailableError("redis", { cause: err });
  }
}
