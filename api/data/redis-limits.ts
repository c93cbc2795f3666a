import type { Redis } from "ioredis";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { DependencyUnavailableError } from "../../common/errors.js";
import type { RateDecision, RequestLimiter, UploadCounter } from "../domain/ports.js";

const WINDOW_SECONDS = 60;

/**
 * Requests per API key per minute in Redis (rate-limiter-flexible, a fixed window per key), so
 * every API replica spends the same budget. One limiter per distinct limit, since tenants may
 * have their own; all keep their counters under `<prefix>:limits:rate:`.
 */
export class RedisRequestLimiter implements RequestLimiter {
  private readonly limiters = new Map<number, RateLimiterRedis>();

  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async take(keyId: string, limit: number): Promise<RateDecision> {
    try {
      const res = await this.limiter(limit).consume(keyId);
      return decision(true, limit, res);
    } catch (err) {
      // Over the limit, the library rejects with its result; anything else is Redis failing.
      if (err instanceof RateLimiterRes) return decision(false, limit, err);
      throw err;
    }
  }

  private limiter(limit: number): RateLimiterRedis {
    let limiter = this.limiters.get(limit);
    if (!limiter) {
      // The key names the limit: a tenant whose limit changes starts a fresh window, not another's count.
      limiter = new RateLimiterRedis({
        storeClient: this.redis, keyPrefix: `${this.prefix}:limits:rate:${limit}`, points: limit, duration: WINDOW_SECONDS,
        // A Redis not connected is an error at once, not a request waiting for it to come back.
        rejectIfRedisNotReady: true,
      });
      this.limiters.set(limit, limiter);
    }
    return limiter;
  }
}

function decision(allowed: boolean, limit: number, res: RateLimiterRes): RateDecision {
  return {
    allowed, limit, windowSeconds: WINDOW_SECONDS,
    remaining: Math.max(0, res.remainingPoints),
    resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  };
}

/**
 * Bytes uploaded per tenant per UTC day: `<prefix>:limits:uploads:<tenant>:<day>`, expiring after
 * its day. A Redis that does not answer is DependencyUnavailableError: the submit is refused with 503.
 */
export class RedisUploadCounter implements UploadCounter {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  add(tenantId: string, day: string, bytes: number, ttlSeconds: number): Promise<number> {
    return unavailableAsRedis(() => this.increment(tenantId, day, bytes, ttlSeconds));
  }

  total(tenantId: string, day: string): Promise<number> {
    return unavailableAsRedis(async () => Number((await this.redis.get(this.key(tenantId, day))) ?? 0));
  }

  private async increment(tenantId: string, day: string, bytes: number, ttlSeconds: number): Promise<number> {
    const key = this.key(tenantId, day);
    // Kept a minute past the day's end, for replicas whose clocks are a little apart.
    const replies = await this.redis.multi().incrby(key, bytes).expire(key, ttlSeconds + 60).exec();
    if (!replies) throw new Error("the upload counter's transaction was discarded");
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0]!;
    return Number(replies[0]![1]);
  }

  private key(tenantId: string, day: string): string {
    return `${this.prefix}:limits:uploads:${tenantId}:${day}`;
  }
}

async function unavailableAsRedis<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw new DependencyUnavailableError("redis", { cause: err });
  }
}
