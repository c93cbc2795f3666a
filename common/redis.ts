import { Redis } from "ioredis";
import type { Logger } from "./logger.js";

export interface RedisOptions {
  /** Prepended to every key this client touches: one namespace per deployment or per test. */
  keyPrefix?: string;
  log?: Logger;
  /** Name shown by CLIENT LIST, so an operator can tell which process holds a connection. */
  connectionName?: string;
  /** A command unanswered this long rejects ("Command timed out"); none by default. */
  commandTimeoutMs?: number;
  /** The longest wait between reconnect attempts: 2 s. */
  maxRetryDelayMs?: number;
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
    commandTimeout: opts.commandTimeoutMs,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, opts.maxRetryDelayMs ?? 2000),
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

/**
 * Resolves when Redis takes a write now: a SET of `key` that expires after `ttlMs`. Rejects with
 * Redis's error when it refuses writes (OOM at maxmemory under noeviction, READONLY replica,
 * MISCONF), or with `signal`'s reason when it aborts first. While the connection is down it waits
 * for it to come back (until `signal`) instead of queueing the command, so checks repeated through
 * an outage do not pile up, and a blip shorter than the caller's deadline does not count.
 */
export async function redisWritable(redis: Redis, key: string, ttlMs: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  if (redis.status !== "ready") await ready(redis, signal);
  await redis.set(key, String(Date.now()), "PX", ttlMs);
}

function ready(redis: Redis, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onReady = () => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    };
    const onAbort = () => {
      redis.off("ready", onReady);
      reject(signal.reason as Error);
    };
    redis.once("ready", onReady);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
