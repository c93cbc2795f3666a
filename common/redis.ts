import { Redis } from "ioredis";
import type { Logger } from "./logger.js";

export interface RedisOptions {
  /** Prepended to every key this client touches: one namespace per deployment or per test. */
  keyPrefix?: string;
  log?: Logger;
  /** Name shown by CLIENT LIST, so an operator can tell which process holds a connection. */
  connectionName?: string;
}

/**
 * A Redis client that reconnects forever with capped backoff and queues commands while it does
 * (maxRetriesPerRequest: null, as BullMQ requires), logging each state change once.
 */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    keyPrefix: opts.keyPrefix,
    connectionName: opts.connectionName,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
  });
  let down = false;
  redis.on("error", (err: Error) => {
    if (!down) opts.log?.warn({ err: err.message }, "Redis connection error");
    down = true;
  });
  redis.on("ready", () => {
    if (down) opts.log?.info("Redis connection restored");
    down = false;
  });
  return redis;
}

/** True when Redis answers PING within `timeoutMs`: for /readyz. */
export async function redisHealthy(redis: Redis, timeoutMs = 1000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([redis.ping().then((r) => r === "PONG").catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
